"""Qt-free MAE pretraining and evaluation for the bundled default model."""

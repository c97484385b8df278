"""MAE Desktop: explore masked autoencoders by painting masks over the patch grid."""

__version__ = "0.1.0"
APP_NAME = "MAE Desktop"

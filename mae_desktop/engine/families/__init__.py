"""Model families other than the still-image ViT MAE (one module each)."""

"""MobileViT: MV2Block, MobileViTBlock and the MobileViT XXS/XS/S backbones."""

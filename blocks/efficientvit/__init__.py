"""EfficientViT (Liu et al., 2023), the downstream variant: a backbone with outputs at strides 8, 16 and 32."""

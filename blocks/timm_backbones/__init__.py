"""timm models as multi-output backbones.

`TimmBackbone` takes any timm model name that `feature_info.json` lists (`[-1, 1, TimmBackbone, [resnet18]]`);
a curated set of popular models is also registered under its own timm name (`[-1, 1, resnet18, [False]]`, the
seeds' spelling). Taps, channels and strides come from the recorded `feature_info`, never from a forward pass,
and never from the network: models are created with `pretrained=False` and the compiler loads a local
weights file when the row names one.
"""

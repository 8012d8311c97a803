"""Declaration of RT-DETR's decoder head for the Ultralytics dialect (no torch imported here).

Ultralytics' parse rule: the row's arguments are passed unscaled, with the list of input channels inserted
after `nc`: RTDETRDecoder(nc, ch, hd, nq, ndp, nh, ndl, d_ffn, dropout, act, eval_idx, nd, label_noise_ratio,
box_noise_scale, learnt_init_query).
"""

from __future__ import annotations

from yamlnet.registry import FILL_C1S, Arg, declare

declare(
    "RTDETRDecoder",
    "blocks.rtdetr_decoder.decoder:RTDETRDecoder",
    dialect="ultralytics",
    args=(
        Arg("nc", "int", default=80, doc="number of classes (not width-scaled)"),
        Arg("ch", "list", fill=FILL_C1S, doc="input channels, one per level (filled)"),
        Arg("hd", "int", default=256, doc="hidden size of the transformer"),
        Arg("nq", "int", default=300, doc="number of queries (detections per image)"),
        Arg("ndp", "int", default=4, doc="sampling points per head and level in deformable attention"),
        Arg("nh", "int", default=8, doc="attention heads"),
        Arg("ndl", "int", default=6, doc="decoder layers"),
        Arg("d_ffn", "int", default=1024, doc="feed-forward size"),
        Arg("dropout", "float", default=0.0, doc="dropout"),
        Arg("act", "none", default=None, doc="activation of the feed-forward (None: ReLU)"),
        Arg("eval_idx", "int", default=-1, doc="decoder layer whose output is used in eval (negative counts from the end)"),
        Arg("nd", "int", default=100, doc="denoising queries (training)"),
        Arg("label_noise_ratio", "float", default=0.5, doc="denoising label noise (training)"),
        Arg("box_noise_scale", "float", default=1.0, doc="denoising box noise (training)"),
        Arg("learnt_init_query", "bool", default=False, doc="learn the initial query embeddings instead of taking encoder features"),
    ),
    inputs="list",
    repeat="none",
    role="head",
    out_channels=None,
    doc="RT-DETR decoder head: top-k encoder query selection + deformable-attention transformer decoder.",
)

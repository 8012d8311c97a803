"""Middle: Spec -> IR graph, taps, scaling, channel and stride inference, static checks."""

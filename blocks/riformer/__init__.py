"""RIFormer backbones (PoolFormer-like stages whose token mixer is a per-channel affine map)."""

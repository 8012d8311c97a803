"""EMO (Zhang et al., ICCV 2023), Efficient MOdel built of inverted residual mobile blocks: five outputs, P1..P5."""

"""MobileOne: MobileOneBlock (reparameterisable) and the MobileOne-S0 backbone."""

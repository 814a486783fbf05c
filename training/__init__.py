"""Training data (synthetic songs, Slakh2100), latent cache, LDM and consistency distillation."""

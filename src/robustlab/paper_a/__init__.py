"""Paper A (Bartschat et al.): corruptions, the three CIFAR-10 nets (single and wide), training,
the accuracy grids and the minimal adversarial change."""

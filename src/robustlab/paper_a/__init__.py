"""Paper A (Bartschat et al.): corruptions, the three CIFAR-10 nets (single and wide), training,
the accuracy grids, the minimal adversarial change and the paper's claims (:mod:`.claims`)."""

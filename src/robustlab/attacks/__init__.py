"""Adversarial attacks: FGSM / BIM and the minimal change (DeepFool start + FMN steps)."""

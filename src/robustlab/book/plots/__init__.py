"""Figures and tables of the book, one module per area: images, grids, attacks, pixels. They draw
what they are given and compute nothing."""

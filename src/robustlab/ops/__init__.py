"""Operations: running the computations outside Jupyter and moving their results between machines.

:mod:`.campaign` (``python -m robustlab.campaign``: every computation as resumable units), :mod:`.campaign_ray`
(the same units as Ray tasks), :mod:`.log` (the campaign log), :mod:`.pack` (results between machines) and
:mod:`.publish` (records → ``published/<profile>/``). Above the papers (it calls them), below the book
(whose provenance reads the campaign log); nothing scientific lives here.
"""

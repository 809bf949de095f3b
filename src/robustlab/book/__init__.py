"""The book: the papermill runner (:mod:`.runner`, ``python -m robustlab.book``), the checklist of
claims and the summary (:mod:`.checklist`), provenance, widgets and the figures (:mod:`.plots`)."""

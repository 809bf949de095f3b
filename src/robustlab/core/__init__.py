"""Infrastructure shared by both papers: parameters and profiles (:mod:`.params`), the results store
(:mod:`.results`, :mod:`.safeio`), moving results between machines (:mod:`.pack`, :mod:`.publish`),
deadlines and the no-compute guard (:mod:`.budget`), errors, paths, devices and progress bars."""

"""Analysis of finished runs, one question per module.

* :mod:`~grokrfm.analysis.representation`: what the learned M encodes (scores against Pi(g)).
* :mod:`~grokrfm.analysis.structure`: circulant structure and AGOP alignment over iterations.
* :mod:`~grokrfm.analysis.orbits`: which test points a run gets right (Finding 4.1).
* :mod:`~grokrfm.analysis.stabilizer`: does a trivial stabiliser predict generalisation.
* :mod:`~grokrfm.analysis.measure`: all feature measures of a batch of runs at once.
"""

"""Analysis of finished runs, one question per module.

* :mod:`~grokrfm.analysis.representation`: what the learned M encodes (scores against Pi(g)).
* :mod:`~grokrfm.analysis.structure`: circulant structure and AGOP alignment over iterations.
* :mod:`~grokrfm.analysis.orbits`: which test points a run gets right (Finding 4.1).
* :mod:`~grokrfm.analysis.stabilizer`: does a trivial stabiliser predict generalisation.
* :mod:`~grokrfm.analysis.measure`: all feature measures of a batch of runs at once.
* :mod:`~grokrfm.analysis.curves`: when a per-iteration curve crosses a level.

The package reads arrays and run records; it never imports the experiments, the command
line or the plotting.
"""

from grokrfm.analysis import curves, measure, orbits, representation, stabilizer, structure

__all__ = ["curves", "measure", "orbits", "representation", "stabilizer", "structure"]

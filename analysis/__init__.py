"""Reports and uses of a trained genome, one module per command: ``report`` (gene scores, polar plots,
correlations), ``conditional`` (sample, evaluate-conditional), ``interpolate``, ``prune``, ``demo``,
``train_report``.

Each public function is what one `genomekit` command calls. They take loaded objects (a
``genomekit.training.Checkpoint``, a ``genomekit.stats.Stats``, a ``classifiers.ClassifierSet``):
the command line reads each artefact once and checks the inputs with ``analysis.inputs``."""

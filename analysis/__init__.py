"""Reports and uses of a trained genome: gene scores, polar plots, correlations, conditional sampling,
interpolation, pruning. Each public function is what one `genomekit` command calls."""

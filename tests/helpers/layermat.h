/*
 * layermat.h (test helpers only): materialises a layer description on top
 * of a copy of a root directory, as a container runtime applies a layer, so
 * helpers (copa-debapply, copa-apkapply) can compare an applier's result
 * with the distribution's own tool on a real tree.
 */
#ifndef COPA_TESTS_LAYERMAT_H
#define COPA_TESTS_LAYERMAT_H

#include "layer/layer.h"
#include "util/err.h"

#include <stddef.h>

struct copa_test_mat_counts {
	size_t entries, whiteouts, opaques;
};

/*
 * Creates outdir as a copy of root (cp -a) when it does not exist, then
 * applies every whiteout and opaque marker of b and writes every entry, in
 * tar order. Writes never follow symlinks (a layer path that passes through
 * one is an error: it would be a copa bug). listfile (or NULL) receives the
 * layer description, one JSON object per entry or marker in tar order.
 */
int copa_test_layer_materialize(const struct copa_layer_builder *b, const char *root,
                                const char *outdir, const char *listfile,
                                struct copa_test_mat_counts *counts, struct copa_err *err);

#endif

/*
 * viewload.h (test helpers only): builds a merged view from a root file
 * system given as a directory or a tar file, as the layer reader would from
 * an image, so helper programs can run the probe and planner on real trees.
 * Small files under the prefixes copa reads (package databases, apt
 * configuration, keyrings, os-release) are kept inline; others are read on
 * demand from the directory (tar contents outside those prefixes are not
 * kept).
 */
#ifndef COPA_TESTS_VIEWLOAD_H
#define COPA_TESTS_VIEWLOAD_H

#include "layer/view.h"
#include "util/err.h"

/* Loads the tree under dir into a new view; the view keeps reading from dir. */
struct copa_view *copa_test_view_from_dir(const char *dir, struct copa_err *err);

/* Loads a tar archive (any compression libarchive reads) into a new view. */
struct copa_view *copa_test_view_from_tar(const char *tar, struct copa_err *err);

#endif

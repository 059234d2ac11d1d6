// cowdb/cowdb.h — umbrella header: includes the whole public API of cowdb.
//
// cowdb is a versioned in-memory database built on a persistent chunked vector (pvec): copies
// are O(1) snapshots, writes copy only the chunks they touch. See README.md for the tour.
#ifndef COWDB_COWDB_H_
#define COWDB_COWDB_H_

#include "cowdb/diff.h"
#include "cowdb/merge.h"
#include "cowdb/pvec.h"

#endif  // COWDB_COWDB_H_

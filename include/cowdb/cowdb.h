// cowdb/cowdb.h — umbrella header: includes the whole public API of cowdb.
//
// cowdb is a versioned in-memory database built on a persistent chunked vector (pvec): copies
// are O(1) snapshots, writes copy only the chunks they touch. See README.md for the tour.
#ifndef COWDB_COWDB_H_
#define COWDB_COWDB_H_

#include "cowdb/codec.h"
#include "cowdb/database.h"
#include "cowdb/diff.h"
#include "cowdb/merge.h"
#include "cowdb/options.h"
#include "cowdb/pvec.h"
#include "cowdb/snapshot.h"
#include "cowdb/stats.h"
#include "cowdb/status.h"
#include "cowdb/transaction.h"

#endif  // COWDB_COWDB_H_

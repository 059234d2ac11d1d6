// Fuzz target: cowdb::Database::Open(dir) on a database directory it must not trust: the replay
// of the history records (db/storage/version_log.cc: DecodeVersion, DecodeRef, DecodePrune,
// VersionLogReplay), the scan and recovery of the data files (db/storage/database_store.cc:
// ScanDataFiles, Recover, the newest version's node checksum, checkpoint records, unfinished
// compactions, CURRENT) and the loading of the retained versions' datasets.
//
// Random bytes stop at the record checksums (the corruption sweep of database_fault_test.cc
// covers those), so every record this target writes is framed and checksummed validly: the
// fuzzer's bytes decide what the records say. One byte picks the mode:
// - mutate: a small real database is built through the public API (int64 and std::string
//   datasets, a few commits, a branch renamed, tags created and deleted, optionally a merge, a
//   prune and a compaction; built once per configuration and cached), its data files are read
//   back with RecordLogReader, and the fuzzer drops, duplicates, moves, swaps and retypes
//   records, flips and overwrites payload bytes, re-encodes version, branch/tag and prune
//   records with fields changed (ids, parents, dataset names, type tags, roots, depths, rows,
//   node spans, row-id bounds, branch and tag names, prune lists), inserts made-up history and
//   checkpoint records, splits files, leaves gaps in the numbering, truncates files, changes a
//   file's database id, CURRENT's first file and database id, and adds foreign files;
// - raw: the data files hold made-up history records and node records of the fuzzer's bytes.
// With "fixup" (one bit of the input) the records are written as a store would have: each
// version record vouches for the node records since the previous history record (nodes_begin,
// nodes_checksum) and dataset roots follow their node record when it moved.
//
// Open must then return kDataLoss, kFailedPrecondition or kInvalidArgument, or a database in
// which every branch and tag resolves, Log works for every branch, every retained version
// reads end to end (Snapshot::Get of each dataset; the pvec passes check_invariants()),
// GetMemoryReport counts the retained versions, a new commit on "main" (or the first branch)
// succeeds, and reopening finds the same state again. With no mutation the reopened state must
// equal the state built. No crash, hang, leak or undefined behaviour (ASan and UBSan builds);
// every pvec node must be freed at the end.
//
// Each input gets a fresh directory under /dev/shm (else $TMPDIR or /tmp), removed at the end;
// nothing is synced (Sync::kNone). Builds and runs: see tests/fuzz/CMakeLists.txt, e.g.
//   build-fuzz/tests/fuzz/db_open_fuzz -max_len=4096 NEW_INPUTS_DIR tests/fuzz/corpus/db_open_fuzz
//   build/tests/fuzz/db_open_fuzz_replay crash-...      (g++ build: replays one input)
// A failed check prints what failed and aborts.
#include <FuzzedDataProvider.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cowdb/cowdb.h"
#include "cowdb/internal/alloc.h"
#include "cowdb/internal/coding.h"
#include "cowdb/internal/db/dataset.h"
#include "cowdb/internal/row_ids.h"
#include "db/storage/current.h"
#include "db/storage/file.h"
#include "db/storage/node_store.h"
#include "db/storage/record_log.h"
#include "db/storage/version_log.h"
#include "fmt/format.h"
#include "fuzz/fuzz_target.h"

namespace {

namespace fs = std::filesystem;
namespace storage = cowdb::storage;
using cowdb::VersionId;

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "db_open_fuzz: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

#define COWDB_FUZZ_CHECK(cond, ...)                                                     \
  do {                                                                                  \
    if (!(cond)) Fail(fmt::format("`{}` failed: {}", #cond, fmt::format(__VA_ARGS__))); \
  } while (false)

// ---- the state a database shows through the public API ------------------------------------

using Contents = std::variant<std::vector<std::int64_t>, std::vector<std::string>>;

struct VersionState {
  std::vector<std::uint64_t> parents;
  std::string message;
  std::map<std::string, Contents> datasets;
  friend bool operator==(const VersionState&, const VersionState&) = default;
};

struct State {
  std::map<std::string, std::uint64_t> branches;
  std::map<std::string, std::uint64_t> tags;
  std::map<std::string, std::vector<std::uint64_t>> logs;  // Log(branch) ids
  std::map<std::uint64_t, VersionState> versions;          // retained, ids below the bound
  friend bool operator==(const State&, const State&) = default;
};

template <class T>
std::optional<std::vector<T>> ReadAll(const cowdb::Snapshot& snap, const cowdb::DatasetInfo& d) {
  absl::StatusOr<cowdb::pvec<T>> v = snap.Get<T>(d.name);
  if (!v.ok()) {
    COWDB_FUZZ_CHECK(v.status().code() == absl::StatusCode::kInvalidArgument,
                     "Get of dataset \"{}\" of v{}: {}", d.name, snap.id().value,
                     v.status().ToString());
    return std::nullopt;
  }
  try {
    v->check_invariants();
  } catch (const std::exception& e) {
    Fail(fmt::format("dataset \"{}\" of v{} loaded with a broken tree: {}", d.name, snap.id().value,
                     e.what()));
  }
  COWDB_FUZZ_CHECK(v->size() == d.size, "dataset \"{}\" of v{}: {} rows, listed {}", d.name,
                   snap.id().value, v->size(), d.size);
  std::vector<T> out;
  out.reserve(v->size());
  for (const T& x : *v) out.push_back(x);
  COWDB_FUZZ_CHECK(out.size() == v->size(), "dataset \"{}\" of v{}: iterated {} of {} rows", d.name,
                   snap.id().value, out.size(), v->size());
  return out;
}

VersionState ReadVersion(const cowdb::Snapshot& snap) {
  VersionState s;
  for (const VersionId p : snap.info().parents) s.parents.push_back(p.value);
  s.message = snap.info().message;
  for (const cowdb::DatasetInfo& d : snap.Datasets()) {
    COWDB_FUZZ_CHECK(snap.Has(d.name), "v{} lists dataset \"{}\" but has not", snap.id().value,
                     d.name);
    if (std::optional<std::vector<std::int64_t>> v = ReadAll<std::int64_t>(snap, d)) {
      s.datasets.emplace(d.name, *std::move(v));
    } else if (std::optional<std::vector<std::string>> w = ReadAll<std::string>(snap, d)) {
      s.datasets.emplace(d.name, *std::move(w));
    } else {
      Fail(fmt::format("dataset \"{}\" of v{} (type {}) is neither int64 nor string", d.name,
                       snap.id().value, d.type));
    }
  }
  return s;
}

// Branches, tags and logs, checking that each resolves.
void CaptureRefs(const cowdb::Database& db, State* s) {
  for (const cowdb::BranchInfo& b : db.Branches()) {
    s->branches[b.name] = b.head.value;
    absl::StatusOr<VersionId> head = db.Head(b.name);
    COWDB_FUZZ_CHECK(head.ok() && *head == b.head, "Head(\"{}\"): {}", b.name,
                     head.status().ToString());
    absl::StatusOr<cowdb::Snapshot> snap = db.OpenSnapshot(b.name);
    COWDB_FUZZ_CHECK(snap.ok() && snap->id() == b.head, "branch \"{}\" at v{}: {}", b.name,
                     b.head.value, snap.status().ToString());
    absl::StatusOr<cowdb::History> log = db.Log(b.name);
    COWDB_FUZZ_CHECK(log.ok(), "Log(\"{}\"): {}", b.name, log.status().ToString());
    COWDB_FUZZ_CHECK(!log->empty() && log->front().id == b.head, "Log(\"{}\") starts elsewhere",
                     b.name);
    std::vector<std::uint64_t>& ids = s->logs[b.name];
    for (const cowdb::VersionInfo& v : *log) ids.push_back(v.id.value);
  }
  for (const cowdb::BranchInfo& t : db.Tags()) {
    s->tags[t.name] = t.head.value;
    absl::StatusOr<cowdb::Snapshot> snap = db.OpenSnapshot(t.head);
    COWDB_FUZZ_CHECK(snap.ok(), "tag \"{}\" at v{}: {}", t.name, t.head.value,
                     snap.status().ToString());
  }
}

// Every retained version with an id below `bound`, read end to end; returns how many.
std::size_t CaptureVersions(const cowdb::Database& db, std::uint64_t bound, State* s) {
  std::size_t retained = 0;
  for (std::uint64_t id = 1; id < bound; ++id) {
    absl::StatusOr<cowdb::Snapshot> snap = db.OpenSnapshot(VersionId{id});
    if (!snap.ok()) {
      COWDB_FUZZ_CHECK(absl::IsNotFound(snap.status()), "OpenSnapshot(v{}): {}", id,
                       snap.status().ToString());
      continue;
    }
    ++retained;
    s->versions.emplace(id, ReadVersion(*snap));
  }
  return retained;
}

template <class T>
T Ok(absl::StatusOr<T> v, std::string_view what) {
  COWDB_FUZZ_CHECK(v.ok(), "{}: {}", what, v.status().ToString());
  return *std::move(v);
}
void Ok(const absl::Status& s, std::string_view what) {
  COWDB_FUZZ_CHECK(s.ok(), "{}: {}", what, s.ToString());
}

// ---- the records of a database directory -----------------------------------------------------

struct Rec {
  std::uint8_t type = 0;
  std::string payload;
  std::uint64_t key = 0;  // node records: their ref in the built image (fixup follows it), or 0
};

struct DataFile {
  std::uint64_t header_id = 0;  // the database id in the file header
  std::vector<Rec> recs;
  std::optional<std::uint64_t> truncate_to;
  std::uint32_t gap_before = 0;  // numbers skipped before this file
};

struct Image {
  std::uint64_t id = 0;     // database id
  std::uint32_t first = 1;  // CURRENT's first data file
  std::vector<DataFile> files;
  State state;              // what the database held (versions below `bound`)
  std::uint64_t bound = 2;  // above every version id
  std::vector<std::uint64_t> node_keys;
  std::vector<storage::DatasetRecord> datasets;  // every dataset record of every version
};

const std::string& Int64Tag() { return cowdb::internal::stored_type<std::int64_t>::tag(); }
const std::string& StringTag() { return cowdb::internal::stored_type<std::string>::tag(); }

fs::path ScratchRoot() {
  std::error_code ec;
  if (fs::is_directory("/dev/shm", ec)) return "/dev/shm";
  if (const char* t = std::getenv("TMPDIR"); t != nullptr && *t != '\0') return t;
  return "/tmp";
}

fs::path NewScratchDir() {
  static int counter = 0;
  return ScratchRoot() / fmt::format("db_open_fuzz-{}-{}", ::getpid(), counter++);
}

// Reads the data files of a closed database into an image.
void ReadImage(const fs::path& dir, Image* image) {
  storage::Env* env = storage::Env::Default();
  const std::string current = Ok(storage::ReadCurrentFile(env, dir.string()), "read CURRENT");
  COWDB_FUZZ_CHECK(current.size() == 12, "CURRENT payload of {} bytes", current.size());
  image->id = cowdb::internal::DecodeFixed64(current.data());
  image->first = cowdb::internal::DecodeFixed32(current.data() + 8);
  for (std::uint32_t n = image->first;; ++n) {
    const fs::path path = dir / storage::DataFileName(n);
    if (!fs::exists(path)) break;
    std::unique_ptr<storage::RecordLogReader> reader =
        Ok(storage::RecordLogReader::Open(env, path.string(), image->id), "open data file");
    DataFile f;
    f.header_id = image->id;
    storage::LogRecord r;
    for (;;) {
      const storage::LogReadResult res = Ok(reader->Next(&r), "read data file");
      if (res != storage::LogReadResult::kRecord) {
        COWDB_FUZZ_CHECK(res == storage::LogReadResult::kEnd, "built data file is torn");
        break;
      }
      Rec rec{r.type, r.payload, 0};
      if (r.type == storage::kNodeRecordType) {
        rec.key = (std::uint64_t{n} << 40) | r.offset;
        image->node_keys.push_back(rec.key);
      } else if (r.type == storage::kVersionRecord) {
        const storage::VersionRecord v = Ok(storage::DecodeVersion(r.payload), "decode version");
        image->datasets.insert(image->datasets.end(), v.datasets.begin(), v.datasets.end());
      }
      f.recs.push_back(std::move(rec));
    }
    image->files.push_back(std::move(f));
  }
  COWDB_FUZZ_CHECK(!image->files.empty(), "no data file built");
}

cowdb::pvec<std::int64_t> Numbers() {
  std::vector<std::int64_t> v(1100);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<std::int64_t>(i * 7);
  return cowdb::pvec<std::int64_t>(v.begin(), v.end());
}

cowdb::pvec<std::string> Words() {
  std::vector<std::string> v(300);
  for (std::size_t i = 0; i < v.size(); ++i)
    v[i] = std::string(i % 13, static_cast<char>('a' + i % 26));
  return cowdb::pvec<std::string>(v.begin(), v.end());
}

// Configuration bits: 1 strings dataset, 2 merge, 4 prune, 8 compact; 16-48: edits on main.
Image Build(unsigned config) {
  const bool strings = (config & 1) != 0, merge = (config & 2) != 0, prune = (config & 4) != 0,
             compact = (config & 8) != 0;
  const unsigned edits = 1 + ((config >> 4) & 3);
  const fs::path dir = NewScratchDir();
  Image image;
  {
    cowdb::Options options;
    options.sync = cowdb::Sync::kNone;
    options.keep_last_versions = prune ? std::optional<std::size_t>(2) : std::nullopt;
    options.compact_below = 0;  // compactions only when asked for
    std::unique_ptr<cowdb::Database> db = Ok(cowdb::Database::Open(dir, options), "create");
    std::uint64_t last = 1;
    auto commit = [&last](cowdb::Transaction& t, std::string_view message) {
      last = std::max(last, Ok(t.Commit(message), "commit").value);
    };
    {
      cowdb::Transaction t = Ok(db->Begin("main"), "begin");
      Ok(t.Create<std::int64_t>("a", Numbers()), "create a");
      if (strings) Ok(t.Create<std::string>("s", Words()), "create s");
      commit(t, "load");
    }
    Ok(db->CreateTag("t1", "main"), "tag t1");
    Ok(db->CreateBranch("b", "main"), "branch b");
    for (unsigned k = 0; k < edits; ++k) {
      cowdb::Transaction t = Ok(db->Begin("main"), "begin");
      const cowdb::pvec<std::int64_t> a = Ok(t.Get<std::int64_t>("a"), "get a");
      Ok(t.Put("a", a.set(k * 397 % a.size(), 1000 + k)), "put a");
      commit(t, fmt::format("edit {}", k));
    }
    {
      cowdb::Transaction t = Ok(db->Begin("b"), "begin");
      const cowdb::pvec<std::int64_t> a = Ok(t.Get<std::int64_t>("a"), "get a");
      Ok(t.Put("a", a.push_back(-1)), "put a");
      if (strings) {
        const cowdb::pvec<std::string> s = Ok(t.Get<std::string>("s"), "get s");
        Ok(t.Put("s", s.set(3, "changed")), "put s");
      }
      commit(t, "on b");
    }
    if (merge) last = std::max(last, Ok(db->Merge("b", "main", "merge b"), "merge").value);
    Ok(db->RenameBranch("b", "b2"), "rename");
    Ok(db->CreateTag("t2", "b2"), "tag t2");
    Ok(db->DeleteTag("t2"), "delete t2");
    if (prune) (void)db->Prune();
    if (compact) {
      Ok(db->Compact(), "compact");
      cowdb::Transaction t = Ok(db->Begin("main"), "begin");
      Ok(t.Create<std::int64_t>("c", cowdb::pvec<std::int64_t>{1, 2, 3}), "create c");
      commit(t, "after compaction");
    }
    image.bound = last + 1;
    CaptureRefs(*db, &image.state);
    CaptureVersions(*db, image.bound, &image.state);
  }
  ReadImage(dir, &image);
  std::error_code ec;
  fs::remove_all(dir, ec);
  return image;
}

// ---- mutations -------------------------------------------------------------------------------

class Mutator {
 public:
  Mutator(FuzzedDataProvider& in, Image& image) : in_(in), image_(image) {}

  std::uint64_t VersionIdChoice() {
    return in_.ConsumeBool() ? in_.ConsumeIntegralInRange<std::uint64_t>(0, image_.bound + 2)
                             : in_.ConsumeIntegral<std::uint64_t>();
  }

  std::string Name() {
    static const char* const kNames[] = {"main", "b", "b2", "t1", "t2", "a", "s", "c", "", " x"};
    const std::size_t k = in_.ConsumeIntegralInRange<std::size_t>(0, std::size(kNames));
    return k < std::size(kNames) ? kNames[k] : in_.ConsumeRandomLengthString(12);
  }

  std::uint64_t Root() {
    switch (in_.ConsumeIntegralInRange(0, 3)) {
      case 0:
        if (!image_.datasets.empty()) return Pick(image_.datasets).root;
        return 0;
      case 1:
        if (!image_.node_keys.empty()) return Pick(image_.node_keys);
        return 0;
      case 2: return 0;
      default: return in_.ConsumeIntegral<std::uint64_t>();
    }
  }

  storage::DatasetRecord Dataset() {
    storage::DatasetRecord d;
    if (!image_.datasets.empty() && in_.ConsumeBool()) d = Pick(image_.datasets);
    if (in_.ConsumeBool()) d.name = Name();
    if (d.type_tag.empty() || in_.ConsumeBool()) {
      d.type_tag = in_.ConsumeBool() ? Int64Tag() : StringTag();
    }
    if (d.root == 0 || in_.ConsumeBool()) d.root = Root();
    if (in_.ConsumeBool()) d.depth = in_.ConsumeIntegralInRange<std::uint32_t>(0, 3);
    if (in_.ConsumeBool()) d.rows = in_.ConsumeIntegralInRange<std::uint64_t>(0, 1200);
    return d;
  }

  void EditVersion(storage::VersionRecord& v) {
    switch (in_.ConsumeIntegralInRange(0, 14)) {
      case 0: v.id = VersionIdChoice(); break;
      case 1: v.parents.resize(in_.ConsumeIntegralInRange<std::size_t>(0, 2)); break;
      case 2:
        if (!v.parents.empty()) Pick(v.parents) = VersionIdChoice();
        break;
      case 3: v.time_ns = in_.ConsumeIntegral<std::int64_t>(); break;
      case 4: v.message = in_.ConsumeRandomLengthString(16); break;
      case 5: v.nodes_begin = in_.ConsumeIntegralInRange<std::uint64_t>(0, 1 << 16); break;
      case 6: v.nodes_checksum ^= std::uint64_t{1} << in_.ConsumeIntegralInRange(0, 63); break;
      case 7: v.next_row_id = in_.ConsumeIntegral<std::uint64_t>(); break;
      case 8:
        if (!v.datasets.empty()) {
          v.datasets.erase(v.datasets.begin() +
                           in_.ConsumeIntegralInRange<std::ptrdiff_t>(
                               0, static_cast<std::ptrdiff_t>(v.datasets.size()) - 1));
        }
        break;
      case 9: v.datasets.push_back(Dataset()); break;
      case 10:
        if (!v.datasets.empty()) Pick(v.datasets).name = Name();
        break;
      case 11:
        if (!v.datasets.empty()) {
          Pick(v.datasets).type_tag = in_.ConsumeBool()
                                          ? (in_.ConsumeBool() ? Int64Tag() : StringTag())
                                          : in_.ConsumeRandomLengthString(16);
        }
        break;
      case 12:
        if (!v.datasets.empty()) Pick(v.datasets).root = Root();
        break;
      case 13:
        if (!v.datasets.empty()) {
          storage::DatasetRecord& d = Pick(v.datasets);
          if (in_.ConsumeBool()) {
            d.depth = in_.ConsumeBool() ? in_.ConsumeIntegralInRange<std::uint32_t>(0, 4)
                                        : in_.ConsumeIntegral<std::uint32_t>();
          } else {
            d.rows = in_.ConsumeBool()
                         ? d.rows + in_.ConsumeIntegralInRange<std::uint64_t>(0, 2) - 1
                         : in_.ConsumeIntegral<std::uint64_t>();
          }
        }
        break;
      default:
        std::sort(v.datasets.begin(), v.datasets.end(),
                  [](const auto& x, const auto& y) { return x.name < y.name; });
        break;
    }
  }

  storage::VersionRecord NewVersion() {
    storage::VersionRecord v;
    v.id = VersionIdChoice();
    v.parents.resize(in_.ConsumeIntegralInRange<std::size_t>(0, 2));
    for (std::uint64_t& p : v.parents) p = VersionIdChoice();
    v.message = in_.ConsumeRandomLengthString(8);
    v.nodes_begin = storage::kLogFileHeaderSize;
    v.next_row_id = in_.ConsumeBool() ? 0 : in_.ConsumeIntegral<std::uint64_t>();
    const std::size_t n = in_.ConsumeIntegralInRange<std::size_t>(0, 3);
    for (std::size_t k = 0; k < n; ++k) v.datasets.push_back(Dataset());
    if (in_.ConsumeBool()) {
      std::sort(v.datasets.begin(), v.datasets.end(),
                [](const auto& x, const auto& y) { return x.name < y.name; });
    }
    return v;
  }

  void EditRef(storage::RefRecord& r) {
    switch (in_.ConsumeIntegralInRange(0, 4)) {
      case 0: r.tag = !r.tag; break;
      case 1:
        r.erase = in_.ConsumeBool();
        r.rename_to = r.erase || in_.ConsumeBool() ? "" : Name();
        break;
      case 2: r.name = Name(); break;
      case 3: r.version = VersionIdChoice(); break;
      default: r.rename_to = r.erase ? "" : Name(); break;
    }
  }

  storage::RefRecord NewRef() {
    storage::RefRecord r;
    r.tag = in_.ConsumeBool();
    r.name = Name();
    switch (in_.ConsumeIntegralInRange(0, 2)) {
      case 0: r.version = VersionIdChoice(); break;
      case 1: r.erase = true; break;
      default: r.rename_to = Name(); break;
    }
    return r;
  }

  storage::PruneRecord NewPrune() {
    storage::PruneRecord p;
    const std::size_t n = in_.ConsumeIntegralInRange<std::size_t>(0, 3);
    for (std::size_t k = 0; k < n; ++k) p.ids.push_back(VersionIdChoice());
    if (in_.ConsumeBool()) std::sort(p.ids.begin(), p.ids.end());
    return p;
  }

  Rec NewHistoryRecord() {
    switch (in_.ConsumeIntegralInRange(0, 5)) {
      case 0: return {storage::kVersionRecord, storage::EncodeVersion(NewVersion()), 0};
      case 1: return {storage::kRefRecord, storage::EncodeRef(NewRef()), 0};
      case 2: return {storage::kPruneRecord, storage::EncodePrune(NewPrune()), 0};
      case 3: return {storage::kCheckpointRecord, in_.ConsumeBool() ? "" : "x", 0};
      default:
        return {in_.ConsumeIntegralInRange<std::uint8_t>(1, 255), in_.ConsumeRandomLengthString(64),
                0};
    }
  }

  // Re-encodes a decodable history record with a field changed; false if it is not one.
  bool EditHistoryRecord(Rec& r) {
    if (r.type == storage::kVersionRecord) {
      absl::StatusOr<storage::VersionRecord> v = storage::DecodeVersion(r.payload);
      if (!v.ok()) return false;
      const int edits = in_.ConsumeIntegralInRange(1, 3);
      for (int k = 0; k < edits; ++k) EditVersion(*v);
      r.payload = storage::EncodeVersion(*v);
      return true;
    }
    if (r.type == storage::kRefRecord) {
      absl::StatusOr<storage::RefRecord> ref = storage::DecodeRef(r.payload);
      if (!ref.ok()) return false;
      EditRef(*ref);
      r.payload = storage::EncodeRef(*ref);
      return true;
    }
    if (r.type == storage::kPruneRecord) {
      absl::StatusOr<storage::PruneRecord> p = storage::DecodePrune(r.payload);
      if (!p.ok()) return false;
      switch (in_.ConsumeIntegralInRange(0, 2)) {
        case 0: p->ids.push_back(VersionIdChoice()); break;
        case 1:
          if (!p->ids.empty()) p->ids.pop_back();
          break;
        default:
          if (!p->ids.empty()) Pick(p->ids) = VersionIdChoice();
          break;
      }
      r.payload = storage::EncodePrune(*p);
      return true;
    }
    return false;
  }

  // One mutation of the image; returns false when it changed nothing.
  bool Step() {
    std::vector<DataFile>& files = image_.files;
    if (files.empty()) files.emplace_back().header_id = image_.id;
    DataFile& f = Pick(files);
    const int op = in_.ConsumeIntegralInRange(0, 15);
    if (op <= 7 && f.recs.empty()) return false;
    auto pos = [this](const DataFile& g, std::size_t extra) {
      return in_.ConsumeIntegralInRange<std::size_t>(0, g.recs.size() + extra - 1);
    };
    switch (op) {
      case 0:  // drop a record
        f.recs.erase(f.recs.begin() + static_cast<std::ptrdiff_t>(pos(f, 0)));
        return true;
      case 1: {  // duplicate a record somewhere
        const Rec r = f.recs[pos(f, 0)];
        DataFile& g = Pick(files);
        g.recs.insert(g.recs.begin() + static_cast<std::ptrdiff_t>(pos(g, 1)), r);
        return true;
      }
      case 2: {  // move a record somewhere
        const std::size_t k = pos(f, 0);
        Rec r = std::move(f.recs[k]);
        f.recs.erase(f.recs.begin() + static_cast<std::ptrdiff_t>(k));
        DataFile& g = Pick(files);
        g.recs.insert(g.recs.begin() + static_cast<std::ptrdiff_t>(pos(g, 1)), std::move(r));
        return true;
      }
      case 3: {  // swap two records
        DataFile& g = Pick(files);
        if (g.recs.empty()) return false;
        std::swap(f.recs[pos(f, 0)], g.recs[pos(g, 0)]);
        return true;
      }
      case 4:  // change a record's type
        f.recs[pos(f, 0)].type = in_.ConsumeBool()
                                     ? in_.ConsumeIntegralInRange<std::uint8_t>(1, 6)
                                     : in_.ConsumeIntegralInRange<std::uint8_t>(1, 255);
        return true;
      case 5: {  // flip bits of a payload byte (a history record's, or any)
        Rec& r = PickRecord(f);
        if (r.payload.empty()) return false;
        r.payload[in_.ConsumeIntegralInRange<std::size_t>(0, r.payload.size() - 1)] ^=
            static_cast<char>(in_.ConsumeIntegralInRange<std::uint8_t>(1, 255));
        return true;
      }
      case 6: {  // overwrite a little-endian word of a payload
        Rec& r = PickRecord(f);
        const std::size_t width = in_.ConsumeBool() ? 8 : 4;
        if (r.payload.size() < width) return false;
        const std::size_t at = in_.ConsumeIntegralInRange<std::size_t>(0, r.payload.size() - width);
        const std::uint64_t w = in_.ConsumeIntegral<std::uint64_t>();
        for (std::size_t b = 0; b < width; ++b) r.payload[at + b] = static_cast<char>(w >> (8 * b));
        return true;
      }
      case 7: {  // truncate or extend a payload
        Rec& r = PickRecord(f);
        if (in_.ConsumeBool()) {
          r.payload.resize(in_.ConsumeIntegralInRange<std::size_t>(0, r.payload.size()));
        } else {
          r.payload += in_.ConsumeRandomLengthString(16);
        }
        return true;
      }
      case 8:
      case 9:
      case 10: {  // re-encode a history record with fields changed
        std::vector<Rec*> history;
        for (DataFile& g : files) {
          for (Rec& r : g.recs) {
            if (r.type >= storage::kVersionRecord && r.type <= storage::kPruneRecord)
              history.push_back(&r);
          }
        }
        if (history.empty()) return false;
        return EditHistoryRecord(*Pick(history));
      }
      case 11:  // a made-up history record
        f.recs.insert(f.recs.begin() + static_cast<std::ptrdiff_t>(pos(f, 1)), NewHistoryRecord());
        return true;
      case 12: {  // split a file: the records from k on go to a new file after it
        const std::size_t k = pos(f, 1);
        DataFile g;
        g.header_id = f.header_id;
        g.recs.assign(std::make_move_iterator(f.recs.begin() + static_cast<std::ptrdiff_t>(k)),
                      std::make_move_iterator(f.recs.end()));
        f.recs.resize(k);
        const auto at =
            std::find_if(files.begin(), files.end(), [&f](const DataFile& x) { return &x == &f; });
        files.insert(at + 1, std::move(g));
        return true;
      }
      case 13:  // file level
        switch (in_.ConsumeIntegralInRange(0, 4)) {
          case 0:
            f.header_id =
                in_.ConsumeBool() ? f.header_id + 1 : in_.ConsumeIntegral<std::uint64_t>();
            return true;
          case 1:
            f.truncate_to = in_.ConsumeIntegralInRange<std::uint64_t>(0, Size(f));
            return true;
          case 2: f.gap_before = in_.ConsumeIntegralInRange<std::uint32_t>(1, 2); return true;
          case 3:
            files.erase(std::find_if(files.begin(), files.end(),
                                     [&f](const DataFile& x) { return &x == &f; }));
            return true;
          default: files.emplace_back().header_id = image_.id; return true;
        }
      case 14:  // CURRENT
        switch (in_.ConsumeIntegralInRange(0, 3)) {
          case 0:
            current_first_ = image_.first + in_.ConsumeIntegralInRange<std::uint32_t>(0, 2) - 1;
            return true;
          case 1: current_first_ = in_.ConsumeIntegral<std::uint32_t>(); return true;
          case 2:
            current_id_ = in_.ConsumeBool() ? 0 : in_.ConsumeIntegral<std::uint64_t>();
            return true;
          default: no_current_ = true; return true;
        }
      default: {  // a foreign file
        static const char* const kNames[] = {"junk", "CURRENT.tmp", "data-000000.log", "data-1.log",
                                             "LOCK"};
        foreign_.push_back(
            kNames[in_.ConsumeIntegralInRange<std::size_t>(0, std::size(kNames) - 1)]);
        return true;
      }
    }
  }

  std::optional<std::uint32_t> current_first_;
  std::optional<std::uint64_t> current_id_;
  bool no_current_ = false;
  std::vector<std::string> foreign_;

 private:
  template <class T>
  T& Pick(std::vector<T>& v) {
    return v[in_.ConsumeIntegralInRange<std::size_t>(0, v.size() - 1)];
  }
  // Mostly a history record, when the file has one.
  Rec& PickRecord(DataFile& f) {
    if (in_.ConsumeBool()) {
      std::vector<Rec*> history;
      for (Rec& r : f.recs) {
        if (r.type != storage::kNodeRecordType) history.push_back(&r);
      }
      if (!history.empty()) return *Pick(history);
    }
    return Pick(f.recs);
  }
  static std::uint64_t Size(const DataFile& f) {
    std::uint64_t n = storage::kLogFileHeaderSize;
    for (const Rec& r : f.recs) n += storage::kLogRecordHeaderSize + r.payload.size();
    return n;
  }

  FuzzedDataProvider& in_;
  Image& image_;
};

// Writes the image's data files, CURRENT and foreign files into `dir` (which is empty). With
// `fixup`, version records vouch for the node records since the previous history record and
// their roots follow the node records that moved.
void WriteImage(const fs::path& dir, const Image& image, const Mutator& m, bool fixup) {
  storage::Env* env = storage::Env::Default();
  fs::create_directories(dir);
  std::map<std::uint64_t, std::uint64_t> moved;  // key of a node record -> its ref now
  std::uint32_t number = image.first;
  for (std::size_t i = 0; i < image.files.size(); ++i) {
    const DataFile& f = image.files[i];
    number += f.gap_before + (i == 0 ? 0 : 1);
    if (number == 0 || number > storage::kMaxNodeFileNumber) break;
    const std::string path = (dir / storage::DataFileName(number)).string();
    std::unique_ptr<storage::RecordLogWriter> w =
        Ok(storage::RecordLogWriter::Open(env, path, f.header_id, storage::SyncMode::kNone),
           "open data file for writing");
    for (const Rec& r : f.recs) {
      const std::string* payload = &r.payload;
      std::string fixed;
      if (r.type == storage::kNodeRecordType && r.key != 0) {
        moved.emplace(r.key, (std::uint64_t{number} << 40) | w->size());
      } else if (fixup && r.type == storage::kVersionRecord) {
        absl::StatusOr<storage::VersionRecord> v = storage::DecodeVersion(r.payload);
        if (v.ok()) {
          v->nodes_begin = w->span().begin;
          v->nodes_checksum = w->span().checksum;
          for (storage::DatasetRecord& d : v->datasets) {
            if (const auto it = moved.find(d.root); it != moved.end()) d.root = it->second;
          }
          fixed = storage::EncodeVersion(*v);
          payload = &fixed;
        }
      }
      Ok(w->Append(r.type, *payload), "append");
      if (r.type != storage::kNodeRecordType) w->StartSpan();
    }
    Ok(w->Close(), "close data file");
    if (f.truncate_to && *f.truncate_to < fs::file_size(path))
      fs::resize_file(path, *f.truncate_to);
  }
  if (!m.no_current_) {
    std::string current;
    cowdb::internal::PutFixed64(&current, m.current_id_.value_or(image.id));
    cowdb::internal::PutFixed32(&current, m.current_first_.value_or(image.first));
    Ok(storage::WriteCurrentFile(env, dir.string(), current), "write CURRENT");
  }
  for (const std::string& name : m.foreign_) {
    std::ofstream(dir / name, std::ios::binary) << "foreign";
  }
}

// Raw mode: files of made-up history records and node records of the fuzzer's bytes.
void RawImage(FuzzedDataProvider& in, Image* image, Mutator& m) {
  image->id = 0x6f70656e66757a7a;
  image->first = in.ConsumeIntegralInRange<std::uint32_t>(1, 3);
  const std::size_t nfiles = in.ConsumeIntegralInRange<std::size_t>(1, 3);
  std::uint64_t key = std::uint64_t{1} << 63;
  for (std::size_t i = 0; i < nfiles; ++i) {
    DataFile& f = image->files.emplace_back();
    f.header_id = image->id;
    if (i == 0 && in.ConsumeBool()) {  // the initial version on "main"
      storage::VersionRecord v1;
      v1.id = 1;
      v1.nodes_begin = storage::kLogFileHeaderSize;
      f.recs.push_back({storage::kVersionRecord, storage::EncodeVersion(v1), 0});
      f.recs.push_back({storage::kRefRecord, storage::EncodeRef({false, false, "main", 1, ""}), 0});
    }
    const std::size_t n = in.ConsumeIntegralInRange<std::size_t>(0, 12);
    for (std::size_t k = 0; k < n && in.remaining_bytes() > 0; ++k) {
      if (in.ConsumeIntegralInRange(0, 2) == 0) {
        f.recs.push_back({storage::kNodeRecordType, in.ConsumeRandomLengthString(256), ++key});
        image->node_keys.push_back(key);
      } else {
        f.recs.push_back(m.NewHistoryRecord());
      }
    }
  }
  image->bound = 8;
}

const Image& CachedBuild(unsigned config) {
  static std::map<unsigned, Image> cache;
  auto it = cache.find(config);
  if (it == cache.end()) {
    cowdb::internal::g_next_row_id.store(1, std::memory_order_relaxed);
    it = cache.emplace(config, Build(config)).first;
  }
  return it->second;
}

void Run(FuzzedDataProvider& in) {
  const auto mode = in.ConsumeIntegral<std::uint8_t>();
  const bool raw = (mode & 1) != 0;
  const bool fixup = (mode & 2) != 0;
  Image image;
  if (!raw) image = CachedBuild(mode >> 2);
  // Row ids restart here whether the build was cached or not: an input replays alike.
  cowdb::internal::g_next_row_id.store(1, std::memory_order_relaxed);
  Mutator m(in, image);
  bool untouched = !raw;
  if (raw) {
    RawImage(in, &image, m);
  }
  const int steps = in.ConsumeIntegralInRange(0, 16);
  for (int s = 0; s < steps && in.remaining_bytes() > 0; ++s) {
    if (m.Step()) untouched = false;
  }

  const fs::path dir = NewScratchDir();
  WriteImage(dir, image, m, fixup);
  cowdb::Options options;
  options.sync = cowdb::Sync::kNone;
  State after;  // what the opened database holds after the new commit
  std::uint64_t bound = 0;
  {
    absl::StatusOr<std::unique_ptr<cowdb::Database>> opened = cowdb::Database::Open(dir, options);
    if (!opened.ok()) {
      const absl::StatusCode code = opened.status().code();
      COWDB_FUZZ_CHECK(code == absl::StatusCode::kDataLoss ||
                           code == absl::StatusCode::kFailedPrecondition ||
                           code == absl::StatusCode::kInvalidArgument,
                       "Open: {}", opened.status().ToString());
      COWDB_FUZZ_CHECK(!untouched, "Open of an untouched database: {}", opened.status().ToString());
    } else {
      cowdb::Database& db = **opened;
      State before;
      CaptureRefs(db, &before);
      COWDB_FUZZ_CHECK(!before.branches.empty(), "a database without branches");
      const cowdb::MemoryReport report = db.GetMemoryReport();
      // A new commit on "main" (or the first branch).
      const std::string branch =
          before.branches.contains("main") ? "main" : before.branches.begin()->first;
      {
        cowdb::Transaction t = Ok(db.Begin(branch), "Begin after Open");
        (void)t.Drop("fuzz-new");
        Ok(t.Create<std::int64_t>("fuzz-new", cowdb::pvec<std::int64_t>{4, 5, 6}),
           "Create after Open");
        bound = Ok(t.Commit("after open"), "Commit after Open").value;
      }
      const std::size_t retained = CaptureVersions(db, bound, &before);
      COWDB_FUZZ_CHECK(report.versions == retained, "GetMemoryReport: {} versions, {} retained",
                       report.versions, retained);
      if (untouched) {
        COWDB_FUZZ_CHECK(before.branches == image.state.branches &&
                             before.tags == image.state.tags && before.logs == image.state.logs,
                         "an untouched database reopened with other branches, tags or logs");
        COWDB_FUZZ_CHECK(bound == image.bound,
                         "an untouched database's next version is v{}, not v{}", bound,
                         image.bound);
        COWDB_FUZZ_CHECK(before.versions == image.state.versions,
                         "an untouched database reopened with other versions");
      }
      CaptureRefs(db, &after);
      CaptureVersions(db, bound + 1, &after);
      COWDB_FUZZ_CHECK(after.versions.contains(bound), "the new commit v{} is not retained", bound);
    }
  }
  if (bound != 0) {  // reopen: the same state
    std::unique_ptr<cowdb::Database> db = Ok(cowdb::Database::Open(dir, options), "reopen");
    State again;
    CaptureRefs(*db, &again);
    CaptureVersions(*db, bound + 1, &again);
    COWDB_FUZZ_CHECK(again == after, "reopening changed the state");
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::int64_t live_before = cowdb::internal::live_nodes();
  {
    FuzzedDataProvider in(data, size);
    Run(in);
  }
  COWDB_FUZZ_CHECK(cowdb::internal::live_nodes() == live_before, "{} nodes leaked",
                   cowdb::internal::live_nodes() - live_before);
  return 0;
}

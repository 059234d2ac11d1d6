// A snapshot-isolation history checker for cowdb::Database, and the stress run it checks.
//
// Several threads run transactions on one Database: small reads and writes of two tiny datasets
// ("x": 16 elements, "y": 8) on two branches ("main", "other"), some aborted on purpose; readers
// hold snapshots through many commits and re-read them. Each thread records its history: per
// transaction its branch, base version, every read and write in program order (with the values),
// its write set, and its outcome (the committed version, or kAborted with the conflicts it
// reported). Every written value is unique and names its writer (Writer()), so a value read can
// be traced to the transaction that wrote it. After the run, the checker compares the history
// with the versions the database holds (their contents and parents) and reports:
//   (a) lost updates: the commits of each branch must form one chain in commit order, each
//       version's parent being the previous commit on its branch; each committed version must
//       equal its parent with the transaction's write set applied (so no write is lost and no
//       other element changes), and the branch head must be the last commit;
//   (b) conflicts reported exactly when due (white box: ConflictMode::kElement, first committer
//       wins on write-write): a committed transaction's write set is disjoint from the write sets
//       of the commits on its branch between its base and its own version; an aborted one reported
//       exactly the elements it wrote that some commits after its base also wrote -- the commits
//       from its base up to some head it saw, all started before its Commit returned;
//   (c) dirty or aborted reads: every read equals the element in the transaction's base version,
//       or its own latest write to it; no value written by an aborted transaction is ever read or
//       found in any version;
//   (d) non-repeatable reads: reads of one element in a transaction (with no own write between)
//       agree, and a held snapshot reads the same in every round, equal to its version.
// "checker flags corrupted histories" runs a small deterministic history, checks it is clean,
// then corrupts it once per anomaly and checks that each corruption is reported in its category.
//
// Catch2 assertions are not thread-safe: threads record, the main thread checks.
#include <algorithm>
#include <array>
#include <atomic>
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cowdb/database.h"
#include "cowdb/pvec.h"
#include "fmt/format.h"
#include "testing/db_helpers.h"
#include "testing/tsan_mutex.h"

namespace {

using cowdb::Database;
using cowdb::pvec;
using cowdb::Snapshot;
using cowdb::Transaction;
using cowdb::VersionId;
using cowdb::testing::Ok;
using I64 = std::int64_t;

// ---- the data -----------------------------------------------------------------------------------

constexpr std::array<const char*, 2> kDatasets = {"x", "y"};
constexpr std::array<std::size_t, 2> kSizes = {16, 8};

struct Key {
  int ds = 0;
  std::size_t index = 0;
  friend auto operator<=>(const Key&, const Key&) = default;
};

std::string Show(const Key& k) { return fmt::format("{}[{}]", kDatasets[k.ds], k.index); }

using Contents = std::array<std::vector<I64>, 2>;

// Initial values are negative; a written value is uid * 16 + j (j < 16), uid = the writer's id.
Contents InitialContents() {
  Contents c;
  for (int d = 0; d < 2; ++d) {
    for (std::size_t i = 0; i < kSizes[d]; ++i) c[d].push_back(-1 - static_cast<I64>(100 * d + i));
  }
  return c;
}
std::uint64_t Uid(int thread, int seq) {
  return static_cast<std::uint64_t>(thread) * 1'000'000 + static_cast<std::uint64_t>(seq) + 1;
}
I64 Value(std::uint64_t uid, int j) {
  return static_cast<I64>(uid * 16 + static_cast<unsigned>(j));
}
// The uid of the transaction that wrote v; 0 for an initial value.
std::uint64_t Writer(I64 v) { return v < 0 ? 0 : static_cast<std::uint64_t>(v) / 16; }

// ---- the history --------------------------------------------------------------------------------

struct Access {
  bool write = false;
  Key key;
  I64 value = 0;  // read or written
};

struct TxnRecord {
  std::uint64_t uid = 0;
  std::string branch;
  std::uint64_t base = 0;
  std::vector<Access> accesses;  // in program order
  std::map<Key, I64> writes;     // the write set: last value written per element
  enum Outcome { kCommitted, kAborted, kAbandoned, kError } outcome = kError;
  std::uint64_t version = 0;                       // kCommitted
  std::set<Key> conflicts;                         // kAborted: what Commit reported
  std::string error;                               // kError
  std::uint64_t commit_start = 0, commit_end = 0;  // ticks of a global clock around Commit
};

struct SnapshotRecord {
  std::string branch;
  std::uint64_t version = 0;
  std::vector<Contents> rounds;  // everything read, once per round
};

struct History {
  std::map<std::string, std::uint64_t> initial_heads;  // every branch, before the run
  Contents initial;
  std::vector<TxnRecord> txns;
  std::vector<SnapshotRecord> snapshots;
};

// What the database holds after the run.
struct Observed {
  std::map<std::uint64_t, Contents> contents;
  std::map<std::uint64_t, std::vector<std::uint64_t>> parents;
  std::map<std::string, std::uint64_t> heads;
};

std::optional<Contents> ReadAll(const Snapshot& s) {
  Contents c;
  for (int d = 0; d < 2; ++d) {
    const absl::StatusOr<pvec<I64>> p = s.Get<I64>(kDatasets[d]);
    if (!p.ok()) return std::nullopt;
    c[d].assign(p->begin(), p->end());
  }
  return c;
}

Observed Observe(const Database& db, const History& h) {
  Observed o;
  for (const cowdb::BranchInfo& b : db.Branches()) o.heads[b.name] = b.head.value;
  std::set<std::uint64_t> ids;
  for (const auto& [branch, id] : h.initial_heads) ids.insert(id);
  for (const TxnRecord& t : h.txns) {
    if (t.outcome == TxnRecord::kCommitted) ids.insert(t.version);
  }
  for (std::uint64_t id : ids) {
    const Snapshot s = Ok(db.OpenSnapshot(VersionId{id}));
    const std::optional<Contents> c = ReadAll(s);
    REQUIRE(c.has_value());
    o.contents[id] = *c;
    for (VersionId p : s.info().parents) o.parents[id].push_back(p.value);
  }
  return o;
}

// ---- the checker --------------------------------------------------------------------------------

struct Anomalies {
  std::vector<std::string> lost_update;     // (a)
  std::vector<std::string> conflicts;       // (b)
  std::vector<std::string> dirty_read;      // (c)
  std::vector<std::string> non_repeatable;  // (d)
  std::vector<std::string> other;           // unexpected statuses, malformed records
  std::size_t total() const {
    return lost_update.size() + conflicts.size() + dirty_read.size() + non_repeatable.size() +
           other.size();
  }
  std::string Report() const {
    std::string out;
    const auto list = [&out](const char* what, const std::vector<std::string>& v) {
      out += fmt::format("{}: {}\n", what, v.size());
      for (std::size_t i = 0; i < v.size() && i < 5; ++i) out += "  " + v[i] + "\n";
    };
    list("(a) lost updates", lost_update);
    list("(b) conflicts", conflicts);
    list("(c) dirty or aborted reads", dirty_read);
    list("(d) non-repeatable reads", non_repeatable);
    list("other", other);
    return out;
  }
};

std::string ShowKeys(const std::set<Key>& keys) {
  std::vector<std::string> s;
  for (const Key& k : keys) s.push_back(Show(k));
  return fmt::format("{{{}}}", fmt::join(s, ", "));
}

Anomalies CheckHistory(const History& h, const Observed& o) {
  Anomalies a;
  std::map<std::uint64_t, const TxnRecord*> by_uid;
  for (const TxnRecord& t : h.txns) by_uid[t.uid] = &t;

  // The commit chain of each branch, in version order, and the model of every version on it.
  std::map<std::string, std::vector<const TxnRecord*>> chains;
  for (const TxnRecord& t : h.txns) {
    if (t.outcome == TxnRecord::kCommitted) chains[t.branch].push_back(&t);
    if (t.outcome == TxnRecord::kError) {
      a.other.push_back(fmt::format("txn {} on {}: {}", t.uid, t.branch, t.error));
    }
  }
  std::map<std::uint64_t, Contents> model;
  // (branch, version) -> its slot in the branch's chain: 0 for the initial head.
  std::map<std::pair<std::string, std::uint64_t>, std::size_t> position;
  for (const auto& [branch, head] : h.initial_heads) {
    model[head] = h.initial;
    position[{branch, head}] = 0;
  }
  for (auto& [branch, chain] : chains) {
    std::sort(chain.begin(), chain.end(),
              [](const TxnRecord* x, const TxnRecord* y) { return x->version < y->version; });
    std::uint64_t prev = h.initial_heads.at(branch);
    for (std::size_t i = 0; i < chain.size(); ++i) {
      const TxnRecord& t = *chain[i];
      position[{branch, t.version}] = i + 1;
      const auto ps = o.parents.find(t.version);
      if (ps == o.parents.end() || ps->second != std::vector<std::uint64_t>{prev}) {
        a.lost_update.push_back(
            fmt::format("v{} (txn {}) on {} does not follow the previous commit v{} on its branch",
                        t.version, t.uid, branch, prev));
      }
      // (a) the version is its parent plus the write set: nothing lost, nothing else changed.
      Contents next = model.at(prev);
      for (const auto& [k, v] : t.writes) next[k.ds].at(k.index) = v;
      model[t.version] = next;
      const auto it = o.contents.find(t.version);
      if (it == o.contents.end()) {
        a.lost_update.push_back(fmt::format("v{} is not retained", t.version));
      } else {
        for (int d = 0; d < 2; ++d) {
          for (std::size_t e = 0; e < next[d].size(); ++e) {
            const I64 got = e < it->second[d].size() ? it->second[d][e] : -999'999;
            if (got == next[d][e]) continue;
            a.lost_update.push_back(fmt::format(
                "v{} (txn {}): {} is {} (written by txn {}), expected {} (by txn {})", t.version,
                t.uid, Show({d, e}), got, Writer(got), next[d][e], Writer(next[d][e])));
          }
        }
      }
      prev = t.version;
    }
    if (o.heads.count(branch) == 0 || o.heads.at(branch) != prev) {
      a.lost_update.push_back(fmt::format("branch {} is at v{}, its last commit is v{}", branch,
                                          o.heads.count(branch) ? o.heads.at(branch) : 0, prev));
    }
  }

  // (c) no version holds a value written by a transaction that did not commit.
  for (const auto& [id, c] : o.contents) {
    for (int d = 0; d < 2; ++d) {
      for (std::size_t i = 0; i < c[d].size(); ++i) {
        const std::uint64_t w = Writer(c[d][i]);
        if (w == 0) continue;
        const auto it = by_uid.find(w);
        if (it == by_uid.end() || it->second->outcome != TxnRecord::kCommitted) {
          a.dirty_read.push_back(fmt::format("v{} holds {} = {} from txn {}, which did not commit",
                                             id, Show({d, i}), c[d][i], w));
        }
      }
    }
  }

  for (const TxnRecord& t : h.txns) {
    if (t.outcome == TxnRecord::kError) continue;
    const auto pos = position.find({t.branch, t.base});
    if (pos == position.end()) {
      a.other.push_back(
          fmt::format("txn {}: base v{} is not on the chain of {}", t.uid, t.base, t.branch));
      continue;
    }
    const std::vector<const TxnRecord*>& chain = chains[t.branch];
    const std::size_t from = pos->second;  // commits chain[from..] came after the base

    // (c) and (d): reads against the base version and the transaction's own writes.
    const Contents& base = model.at(t.base);
    std::map<Key, I64> own;
    std::map<Key, I64> first_read;  // since the last own write
    for (const Access& x : t.accesses) {
      if (x.write) {
        own[x.key] = x.value;
        first_read.erase(x.key);
        continue;
      }
      const auto mine = own.find(x.key);
      const I64 want = mine != own.end() ? mine->second : base[x.key.ds].at(x.key.index);
      if (x.value != want) {
        const std::uint64_t w = Writer(x.value);
        const auto wt = by_uid.find(w);
        const bool aborted =
            w != 0 && (wt == by_uid.end() || wt->second->outcome != TxnRecord::kCommitted);
        a.dirty_read.push_back(
            fmt::format("txn {} read {} = {} (from txn {}{}), but {} has {}{}", t.uid, Show(x.key),
                        x.value, w, aborted ? ", which did not commit" : "",
                        mine != own.end() ? "its own write" : "its base", want,
                        mine != own.end() ? "" : fmt::format(" in v{}", t.base)));
      }
      const auto [it, first] = first_read.emplace(x.key, x.value);
      if (!first && it->second != x.value) {
        a.non_repeatable.push_back(fmt::format("txn {} read {} as {} and then as {}", t.uid,
                                               Show(x.key), it->second, x.value));
      }
    }

    // (b) conflicts, from the write sets.
    std::set<Key> mine;
    for (const auto& [k, v] : t.writes) mine.insert(k);
    if (t.outcome == TxnRecord::kCommitted) {
      for (std::size_t i = from; i < chain.size() && chain[i]->version < t.version; ++i) {
        for (const auto& [k, v] : chain[i]->writes) {
          if (mine.contains(k)) {
            a.conflicts.push_back(fmt::format(
                "txn {} (base v{}) committed v{} although v{} (txn {}), committed after its base, "
                "also wrote {}",
                t.uid, t.base, t.version, chain[i]->version, chain[i]->uid, Show(k)));
          }
        }
      }
    } else if (t.outcome == TxnRecord::kAborted) {
      // The reported conflicts must be what the commits after the base, up to some head that
      // started committing before this Commit returned, wrote of this write set.
      std::set<Key> seen;
      bool matched = false;
      for (std::size_t i = from; i < chain.size() && !matched; ++i) {
        if (chain[i]->commit_start > t.commit_end) break;
        for (const auto& [k, v] : chain[i]->writes) {
          if (mine.contains(k)) seen.insert(k);
        }
        matched = !seen.empty() && seen == t.conflicts;
      }
      if (!matched) {
        a.conflicts.push_back(fmt::format(
            "txn {} (base v{}) aborted reporting {}, which no prefix of the later commits on {} "
            "explains (write set {})",
            t.uid, t.base, ShowKeys(t.conflicts), t.branch, ShowKeys(mine)));
      }
    }
  }

  // (d) held snapshots: every round the same, and equal to the version.
  for (const SnapshotRecord& s : h.snapshots) {
    const auto m = model.find(s.version);
    if (m == model.end()) {
      a.other.push_back(
          fmt::format("a snapshot of v{} on {}: not a committed version", s.version, s.branch));
      continue;
    }
    for (std::size_t r = 0; r < s.rounds.size(); ++r) {
      if (s.rounds[r] != m->second) {
        a.non_repeatable.push_back(
            fmt::format("a snapshot of v{} read other values in round {}", s.version, r));
        break;
      }
    }
  }
  return a;
}

// ---- recording ----------------------------------------------------------------------------------

std::atomic<std::uint64_t> g_clock{0};

// One transaction, recorded. Reads and writes go through the transaction; nothing here asserts.
class Recorder {
 public:
  Recorder(Database& db, std::string branch, std::uint64_t uid) : rec_() {
    rec_.uid = uid;
    rec_.branch = std::move(branch);
    absl::StatusOr<Transaction> t = db.Begin(rec_.branch);
    if (!t.ok()) {
      rec_.error = "Begin: " + t.status().ToString();
      return;
    }
    txn_.emplace(*std::move(t));
    rec_.base = txn_->base().value;
  }
  bool ok() const { return txn_.has_value() && rec_.error.empty(); }

  std::optional<I64> Read(Key k) {
    if (!ok()) return std::nullopt;
    absl::StatusOr<pvec<I64>> p = txn_->Get<I64>(kDatasets[k.ds]);
    if (!p.ok()) {
      rec_.error = "Get: " + p.status().ToString();
      return std::nullopt;
    }
    const I64 v = (*p)[k.index];
    rec_.accesses.push_back({false, k, v});
    return v;
  }
  void Write(Key k, I64 v) {
    if (!ok()) return;
    absl::StatusOr<pvec<I64>::editor*> e = txn_->Edit<I64>(kDatasets[k.ds]);
    if (!e.ok()) {
      rec_.error = "Edit: " + e.status().ToString();
      return;
    }
    (*e)->set(k.index, v);
    rec_.accesses.push_back({true, k, v});
    rec_.writes[k] = v;
  }
  TxnRecord Commit() {
    if (!ok()) return Finish(TxnRecord::kError);
    rec_.commit_start = g_clock.fetch_add(1);
    const absl::StatusOr<VersionId> v = txn_->Commit(fmt::format("txn {}", rec_.uid));
    rec_.commit_end = g_clock.fetch_add(1);
    if (v.ok()) {
      rec_.version = v->value;
      return Finish(TxnRecord::kCommitted);
    }
    if (!absl::IsAborted(v.status())) {
      rec_.error = "Commit: " + v.status().ToString();
      return Finish(TxnRecord::kError);
    }
    for (const cowdb::Conflict& c : txn_->conflicts()) {
      const int ds = c.dataset == kDatasets[0] ? 0 : 1;
      rec_.conflicts.insert({ds, c.index});
    }
    return Finish(TxnRecord::kAborted);
  }
  TxnRecord Abandon() {
    if (txn_) txn_->Abort();
    return Finish(ok() ? TxnRecord::kAbandoned : TxnRecord::kError);
  }

 private:
  TxnRecord Finish(TxnRecord::Outcome o) {
    rec_.outcome = o;
    return std::move(rec_);
  }
  TxnRecord rec_;
  std::optional<Transaction> txn_;
};

// A database with x and y loaded on main, and branch "other" made from it.
std::unique_ptr<Database> MakeDatabase(History& h) {
  auto db = Database::Open();
  h.initial = InitialContents();
  Transaction t = Ok(db->Begin("main"));
  for (int d = 0; d < 2; ++d) Ok(t.Create<I64>(kDatasets[d], pvec<I64>(h.initial[d])));
  Ok(t.Commit("load"));
  Ok(db->CreateBranch("other", "main"));
  for (const cowdb::BranchInfo& b : db->Branches()) h.initial_heads[b.name] = b.head.value;
  return db;
}

// A small history made in a fixed interleaving, single-threaded: a conflict, a commit merged
// against a moved head, a read of the base under a concurrent commit, an abandoned transaction,
// a transaction on the other branch, and a snapshot held across commits.
struct SmallHistory {
  History h;
  Observed o;
  std::uint64_t committed_uid = 0;  // t1: x[0], x[1]
  std::uint64_t aborted_uid = 0;    // t2: conflicted with t1 on x[0]
  std::uint64_t merged_uid = 0;     // t3: y[0], committed after t1 (merged)
  std::uint64_t reader_uid = 0;     // t4: read x[0] twice
  I64 aborted_value = 0;            // what t2 wrote to x[0]
};

SmallHistory MakeSmallHistory() {
  SmallHistory s;
  auto db = MakeDatabase(s.h);
  std::uint64_t uid = 1;
  Recorder t1(*db, "main", uid++), t2(*db, "main", uid++), t3(*db, "main", uid++);
  Recorder t4(*db, "main", uid++);
  s.committed_uid = 1;
  s.aborted_uid = 2;
  s.merged_uid = 3;
  s.reader_uid = 4;
  SnapshotRecord snap{"main", s.h.initial_heads.at("main"), {}};
  const Snapshot held = Ok(db->OpenSnapshot("main"));
  snap.rounds.push_back(*ReadAll(held));
  (void)t1.Read({0, 0});
  t1.Write({0, 0}, Value(1, 0));
  t1.Write({0, 1}, Value(1, 1));
  s.aborted_value = Value(2, 0);
  t2.Write({0, 0}, s.aborted_value);
  (void)t2.Read({0, 0});
  t3.Write({1, 0}, Value(3, 0));
  (void)t4.Read({0, 0});
  s.h.txns.push_back(t1.Commit());
  snap.rounds.push_back(*ReadAll(held));
  (void)t4.Read({0, 0});  // still the base value
  s.h.txns.push_back(t2.Commit());
  s.h.txns.push_back(t3.Commit());
  s.h.txns.push_back(t4.Commit());
  Recorder t5(*db, "other", uid++);
  t5.Write({0, 0}, Value(5, 0));
  s.h.txns.push_back(t5.Commit());
  Recorder t6(*db, "main", uid++);
  t6.Write({0, 2}, Value(6, 0));
  s.h.txns.push_back(t6.Abandon());
  snap.rounds.push_back(*ReadAll(held));
  s.h.snapshots.push_back(std::move(snap));
  s.o = Observe(*db, s.h);
  return s;
}

TxnRecord& Txn(History& h, std::uint64_t uid) {
  for (TxnRecord& t : h.txns) {
    if (t.uid == uid) return t;
  }
  FAIL("no transaction " << uid);
  return h.txns.front();
}

}  // namespace

TEST_CASE("SI history checker: a small fixed history is clean, and each corruption is flagged",
          "[database][si]") {
  SmallHistory s = MakeSmallHistory();
  // The history is what the scenario says.
  REQUIRE(Txn(s.h, s.committed_uid).outcome == TxnRecord::kCommitted);
  REQUIRE(Txn(s.h, s.aborted_uid).outcome == TxnRecord::kAborted);
  REQUIRE(Txn(s.h, s.aborted_uid).conflicts == std::set<Key>{{0, 0}});
  REQUIRE(Txn(s.h, s.merged_uid).outcome == TxnRecord::kCommitted);
  REQUIRE(Txn(s.h, s.reader_uid).outcome == TxnRecord::kCommitted);
  const Anomalies clean = CheckHistory(s.h, s.o);
  INFO(clean.Report());
  REQUIRE(clean.total() == 0);

  SECTION("(a) a lost write: a committed version misses one of its transaction's writes") {
    const std::uint64_t v = Txn(s.h, s.committed_uid).version;
    s.o.contents.at(v)[0][1] = s.h.initial[0][1];
    const Anomalies a = CheckHistory(s.h, s.o);
    INFO(a.Report());
    CHECK(a.lost_update.size() >= 1);
  }
  SECTION("(a) a lost commit: a version does not follow the previous commit of its branch") {
    const std::uint64_t v = Txn(s.h, s.merged_uid).version;
    s.o.parents.at(v) = {s.h.initial_heads.at("main")};  // forked from the base: t1 is lost
    const Anomalies a = CheckHistory(s.h, s.o);
    INFO(a.Report());
    CHECK(a.lost_update.size() >= 1);
  }
  SECTION("(b) a conflict not reported: the aborted transaction's conflicts are wrong") {
    Txn(s.h, s.aborted_uid).conflicts = {{0, 1}};
    const Anomalies a = CheckHistory(s.h, s.o);
    INFO(a.Report());
    CHECK(a.conflicts.size() == 1);
  }
  SECTION("(b) a write-write conflict that committed") {
    // t3 committed after t1 from the same base; had it also written x[0], it must have aborted.
    Txn(s.h, s.merged_uid).writes[{0, 0}] = Value(3, 1);
    const Anomalies a = CheckHistory(s.h, s.o);
    INFO(a.Report());
    CHECK(a.conflicts.size() == 1);
  }
  SECTION("(c) a read of an aborted transaction's write") {
    for (Access& x : Txn(s.h, s.reader_uid).accesses) x.value = s.aborted_value;
    const Anomalies a = CheckHistory(s.h, s.o);
    INFO(a.Report());
    CHECK(a.dirty_read.size() == 2);
    CHECK_THAT(a.dirty_read.front(), Catch::Matchers::Contains("did not commit"));
  }
  SECTION("(c) an aborted transaction's write in a version") {
    s.o.contents.at(Txn(s.h, s.reader_uid).version)[0][5] = s.aborted_value;
    const Anomalies a = CheckHistory(s.h, s.o);
    INFO(a.Report());
    CHECK(a.dirty_read.size() == 1);
  }
  SECTION("(d) a non-repeatable read in a transaction") {
    Txn(s.h, s.reader_uid).accesses.back().value = Value(1, 0);  // t1's committed write
    const Anomalies a = CheckHistory(s.h, s.o);
    INFO(a.Report());
    CHECK(a.non_repeatable.size() == 1);
  }
  SECTION("(d) a held snapshot that changed") {
    s.h.snapshots.front().rounds[1][1][3] = Value(3, 0);
    const Anomalies a = CheckHistory(s.h, s.o);
    INFO(a.Report());
    CHECK(a.non_repeatable.size() == 1);
  }
}

TEST_CASE("stress: snapshot-isolation history of concurrent transactions on two branches",
          "[stress][si]") {
  COWDB_REQUIRE_TSAN_MUTEX_ANNOTATIONS();
  constexpr int kWriters = 4;  // writers 0 and 1 on main, 2 on other, 3 on both
  constexpr int kTxnsPerWriter = 4000;
  constexpr int kReaders = 2;
  constexpr int kRoundsPerSnapshot = 12;
  const std::uint32_t seed = Catch::rngSeed();
  CAPTURE(seed);

  History h;
  auto db = MakeDatabase(h);
  std::vector<std::vector<TxnRecord>> txns(kWriters);
  std::vector<std::vector<SnapshotRecord>> snaps(kReaders);
  std::vector<int> forced_aborts(kWriters, 0);
  std::atomic<int> writers_left{kWriters};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      std::mt19937_64 rng((static_cast<std::uint64_t>(seed) << 8) + static_cast<std::uint64_t>(w));
      const auto pick = [&rng] {
        const int ds = rng() % 3 == 0 ? 1 : 0;
        return Key{ds, static_cast<std::size_t>(rng() % kSizes[ds])};
      };
      for (int k = 0; k < kTxnsPerWriter; ++k) {
        const char* branch = w < 2 ? "main" : w == 2 ? "other" : (k % 2 ? "main" : "other");
        Recorder r(*db, branch, Uid(w + 1, k));
        const int reads = static_cast<int>(rng() % 4);
        const int writes = static_cast<int>(rng() % 3);
        std::vector<Key> read_keys;
        for (int j = 0; j < reads; ++j) {
          read_keys.push_back(pick());
          (void)r.Read(read_keys.back());
        }
        if (rng() % 4 == 0) std::this_thread::yield();  // widen the race window
        for (int j = 0; j < writes; ++j) {
          // Half of the writes are read-modify-writes of an element just read.
          const Key key =
              !read_keys.empty() && rng() % 2 ? read_keys[rng() % read_keys.size()] : pick();
          r.Write(key, Value(Uid(w + 1, k), j));
          if (rng() % 2) (void)r.Read(key);  // reads its own write
        }
        for (const Key& key : read_keys) {
          if (rng() % 2) (void)r.Read(key);  // a repeated read
        }
        txns[w].push_back(rng() % 16 == 0 ? r.Abandon() : r.Commit());
        if (k % 50 == 49) {
          // A sure write-write conflict: two transactions from (about) the same base write one
          // element; the second to commit must abort.
          const Key key = pick();
          Recorder first(*db, branch, Uid(w + 1, kTxnsPerWriter + k));
          first.Write(key, Value(Uid(w + 1, kTxnsPerWriter + k), 0));
          Recorder second(*db, branch, Uid(w + 1, 2 * kTxnsPerWriter + k));
          second.Write(key, Value(Uid(w + 1, 2 * kTxnsPerWriter + k), 0));
          txns[w].push_back(second.Commit());
          txns[w].push_back(first.Commit());
          forced_aborts[w] += txns[w].back().outcome == TxnRecord::kAborted;
        }
      }
      --writers_left;
    });
  }
  for (int rd = 0; rd < kReaders; ++rd) {
    threads.emplace_back([&, rd] {
      const char* branch = rd == 0 ? "main" : "other";
      for (int n = 0; writers_left.load() > 0 || n < 2; ++n) {
        if (n > 100000) break;
        absl::StatusOr<Snapshot> s = db->OpenSnapshot(branch);
        if (!s.ok()) return;  // shows up as a missing snapshot record (checked below)
        SnapshotRecord rec{branch, s->id().value, {}};
        for (int round = 0; round < kRoundsPerSnapshot; ++round) {
          std::optional<Contents> c = ReadAll(*s);
          if (!c) return;
          rec.rounds.push_back(std::move(*c));
          std::this_thread::yield();  // let commits happen while the snapshot is held
        }
        snaps[rd].push_back(std::move(rec));
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (auto& v : txns) {
    for (TxnRecord& t : v) h.txns.push_back(std::move(t));
  }
  for (auto& v : snaps) {
    for (SnapshotRecord& s : v) h.snapshots.push_back(std::move(s));
  }
  CHECK(h.snapshots.size() >= 2 * kReaders);

  const Observed o = Observe(*db, h);
  const Anomalies a = CheckHistory(h, o);
  std::size_t committed = 0, aborted = 0, abandoned = 0, reads = 0, writes = 0;
  for (const TxnRecord& t : h.txns) {
    committed += t.outcome == TxnRecord::kCommitted;
    aborted += t.outcome == TxnRecord::kAborted;
    abandoned += t.outcome == TxnRecord::kAbandoned;
    for (const Access& x : t.accesses) (x.write ? writes : reads) += 1;
  }
  std::size_t snapshot_reads = 0;
  for (const SnapshotRecord& s : h.snapshots) snapshot_reads += s.rounds.size();
  INFO(a.Report());
  CHECK(a.total() == 0);
  constexpr int kForced = kTxnsPerWriter / 50;
  CHECK(h.txns.size() == static_cast<std::size_t>(kWriters * (kTxnsPerWriter + 2 * kForced)));
  // Every forced conflict aborted (whatever committed between the two), and the run exercised
  // what it checks: commits, write-write conflicts, abandoned transactions.
  for (int w = 0; w < kWriters; ++w) CHECK(forced_aborts[w] == kForced);
  CHECK(committed > 0);
  CHECK(aborted >= static_cast<std::size_t>(kWriters * kForced));
  CHECK(abandoned > 0);
  WARN(fmt::format(
      "SI history (seed {}): {} transactions ({} committed, {} aborted on conflicts, {} "
      "abandoned), {} reads, {} writes, {} held snapshots read {} times",
      seed, h.txns.size(), committed, aborted, abandoned, reads, writes, h.snapshots.size(),
      snapshot_reads));
}

// Fault injection for the database layer and for pvec diff/merge: every operation is run again
// and again with one fault injected at its k-th opportunity, k = 1, 2, 3, ... until it completes
// without one. The faults:
//   - node allocation: the k-th pvec node allocation throws std::bad_alloc
//     (internal::g_before_node_alloc; test builds define COWDB_TRACK_NODES);
//   - element copy: the k-th copy (construction or assignment) of the element type Elem throws;
//   - user functor: the k-th call of a user functor (editor update/transform, merge_result::resolve
//     with a function) throws;
//   - any allocation (only in the separate binary cowdb_oom_tests, which compiles this file with
//     COWDB_TEST_OPERATOR_NEW_FAULTS and links the global operator new of
//     tests/testing/oom/operator_new.cc): the k-th throwing allocation of any kind -- std::string,
//     absl and boost containers, version records, Status payloads, nodes.
// Faults fire only inside the operation under test (Injector::Armed); building the world and
// checking it never fail.
//
// Each attempt starts from a fresh world: a Database with branches, tags, a merge history and
// held snapshots, each version paired with a model (std::vector contents per dataset). After every
// attempt, failed or not:
//   - the failure was reported: the injected exception propagated out of the call (or the
//     operation caught it itself, where it checks what it caught); a fault that fired while the
//     call still returned normally, or an error status, is a test failure;
//   - every retained version (its datasets, contents and parents), every branch head, every tag
//     and every held snapshot equals its model, and no version appeared or vanished (the memory
//     report's version count);
//   - the database is still usable: a commit on every branch succeeds and reads back;
//   - nothing leaked: internal::live_nodes() is back at its baseline once the world is dropped.
// Each operation states which faults it must run into (at least once) and meets no other kind,
// so a test cannot pass by never throwing; and a completed run must match its model.
//
// What the API promises, and what these tests found it does. cowdb/database.h and transaction.h
// do not mention allocation failure or throwing element types; README's error model says that
// std::bad_alloc propagates and that every operation that makes a new version gives the strong
// guarantee, and status.h lists no status code for it. The database layer catches nothing: an
// exception from an allocation, an element copy or a user functor propagates out of Commit,
// Merge, Diff, ... as it is (never turned into a Status). Transaction::Commit finishes the
// transaction "whatever the outcome": after a throw the transaction is inactive and a second
// Commit returns kFailedPrecondition (checked). An exception from an editor write inside a
// transaction leaves the editor with its previous contents and the transaction active.
// Operations that make no node and copy no element (a pointer-swap Commit, a fast-forward Merge,
// Prune, Diff, Log, GetMemoryReport, branch and tag operations) meet no node or copy fault at all;
// that is checked too. Under cowdb_oom_tests every operation meets allocation failures; the two
// bugs they exposed are frozen in tests/regress/database_regress_oom.cc. pvec::shared_with
// (which collects nodes in a hash set) joins the pvec operations since that set is a std one:
// Debian's Abseil corrupts its flat_hash_set when growth fails to allocate (abseil-cpp#1581).
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <new>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cowdb/database.h"
#include "cowdb/diff.h"
#include "cowdb/merge.h"
#include "cowdb/pvec.h"
#include "fmt/format.h"
#include "testing/db_helpers.h"
#ifdef COWDB_TEST_OPERATOR_NEW_FAULTS
#include "testing/operator_new_hook.h"
#endif

namespace {

using cowdb::Conflict;
using cowdb::Database;
using cowdb::MergePolicy;
using cowdb::Options;
using cowdb::pvec;
using cowdb::Snapshot;
using cowdb::Transaction;
using cowdb::VersionId;
using cowdb::internal::live_nodes;
using cowdb::testing::ConflictAt;
using cowdb::testing::ConflictRows;
using cowdb::testing::Ok;
using I64 = std::int64_t;

// ---- fault injection ----------------------------------------------------------------------------

enum Fault : unsigned { kNodeAlloc = 1, kCopy = 2, kFunctor = 4, kAnyAlloc = 8 };

const char* FaultName(Fault f) {
  switch (f) {
    case kNodeAlloc: return "node allocation";
    case kCopy: return "element copy";
    case kFunctor: return "user functor";
    case kAnyAlloc: return "any allocation";
  }
  return "?";
}

// What throwing element copies and functors throw.
struct InjectedError : std::runtime_error {
  InjectedError(Fault f, const char* what) : std::runtime_error(what), fault(f) {}
  Fault fault;
};

// A countdown over the injection points of one kind of fault, active only inside Armed().
// Plain fields: the tests of this file are single-threaded.
class Injector {
 public:
  void Arm(Fault f, int k) {
    fault_ = f;
    countdown_ = k;
    fired_ = false;
    seen_ = 0;
  }
  void Disarm() { countdown_ = 0; }
  bool fired() const { return fired_; }
  // Injection points met in armed segments since Arm().
  int seen() const { return seen_; }

  // Called at each injection point of kind f: true (once) at the k-th one inside armed segments.
  bool Fire(Fault f) noexcept {
    if (!active_ || f != fault_ || countdown_ == 0) return false;
    ++seen_;
    if (--countdown_ > 0) return false;
    fired_ = true;
    return true;
  }

  // Runs fn with injection on. The countdown carries over from one armed segment to the next
  // within an attempt, so k counts the injection points of the whole operation.
  template <class Fn>
  void Armed(Fn&& fn) {
    struct Off {
      Injector* self;
      ~Off() { self->active_ = false; }
    } off{this};
    active_ = true;
    fn();
  }

 private:
  Fault fault_ = kNodeAlloc;
  int countdown_ = 0;
  bool active_ = false;
  bool fired_ = false;
  int seen_ = 0;
};

Injector g_inj;

void NodeAllocHook() {
  if (g_inj.Fire(kNodeAlloc)) throw std::bad_alloc();
}

// Installs the node allocation hook for its lifetime.
class NodeHookGuard {
 public:
  NodeHookGuard() { cowdb::internal::g_before_node_alloc = &NodeAllocHook; }
  ~NodeHookGuard() { cowdb::internal::g_before_node_alloc = nullptr; }
  NodeHookGuard(const NodeHookGuard&) = delete;
  NodeHookGuard& operator=(const NodeHookGuard&) = delete;
};

// ---- the element type and the functors --------------------------------------------------------

// Copies throw at their injection point; moves never throw (so editor writes are strong).
// 64 bytes, so that a default 4 KiB chunk holds 64 of them: a chunk copy is 64 injection points.
struct Elem {
  Elem() = default;
  explicit Elem(I64 x) noexcept : v(x) {}
  Elem(const Elem& o) : v(o.v) {
    if (g_inj.Fire(kCopy)) throw InjectedError(kCopy, "Elem copy constructor");
  }
  Elem(Elem&& o) noexcept = default;
  Elem& operator=(const Elem& o) {
    if (g_inj.Fire(kCopy)) throw InjectedError(kCopy, "Elem copy assignment");
    v = o.v;
    return *this;
  }
  Elem& operator=(Elem&& o) noexcept = default;
  ~Elem() = default;
  friend bool operator==(const Elem& a, const Elem& b) noexcept { return a.v == b.v; }

  I64 v = 0;
  I64 padding[7] = {};
};
static_assert(pvec<Elem>::chunk_capacity == 64);

I64 ValueOf(I64 x) { return x; }
I64 ValueOf(const Elem& e) { return e.v; }

// A user functor: x + d, throwing at its injection point.
template <class T>
T Bump(const T& x, I64 d) {
  if (g_inj.Fire(kFunctor)) throw InjectedError(kFunctor, "user functor");
  return T(ValueOf(x) + d);
}

}  // namespace

template <>
struct fmt::formatter<Elem> : fmt::formatter<I64> {
  template <class Ctx>
  auto format(const Elem& e, Ctx& ctx) const {
    return fmt::formatter<I64>::format(e.v, ctx);
  }
};

// Elem is not trivially copyable and has no encode/decode: in-memory databases only.
template <>
struct cowdb::codec<Elem> : cowdb::memory_only {};

namespace {

// ---- models -------------------------------------------------------------------------------------

// Datasets whose name starts with 'e' hold Elem, the others int64.
bool IsElem(std::string_view name) { return !name.empty() && name[0] == 'e'; }

using I64Vec = std::vector<I64>;
using ElemVec = std::vector<Elem>;
using DatasetModel = std::variant<I64Vec, ElemVec>;
using Contents = std::map<std::string, DatasetModel, std::less<>>;

// n elements: from, from + 1, ... (Elem or int64 by the dataset's name).
DatasetModel Initial(std::string_view name, std::size_t n, I64 from) {
  I64Vec v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = from + static_cast<I64>(i);
  if (!IsElem(name)) return v;
  ElemVec e;
  e.reserve(n);
  for (I64 x : v) e.emplace_back(x);
  return e;
}

// One write of a transaction, applied both to a Transaction and to a model.
struct Write {
  enum Kind { kSet, kPush, kCreate, kDrop, kUpdate, kTransform } kind;
  std::string dataset;
  std::size_t index = 0;  // kSet, kUpdate; the size for kCreate
  I64 value = 0;  // kSet, kPush; the first value for kCreate; the delta for kUpdate/kTransform
};

Write Set(std::string d, std::size_t i, I64 v) { return {Write::kSet, std::move(d), i, v}; }
Write Push(std::string d, I64 v) { return {Write::kPush, std::move(d), 0, v}; }
Write Create(std::string d, std::size_t n, I64 from) {
  return {Write::kCreate, std::move(d), n, from};
}
Write Drop(std::string d) { return {Write::kDrop, std::move(d), 0, 0}; }
Write Update(std::string d, std::size_t i, I64 delta) {
  return {Write::kUpdate, std::move(d), i, delta};
}
Write TransformAll(std::string d, I64 delta) { return {Write::kTransform, std::move(d), 0, delta}; }

template <class T>
T Make(I64 v) {
  return T(v);
}

template <class T>
void ApplyToVector(std::vector<T>& v, const Write& w) {
  switch (w.kind) {
    case Write::kSet: v.at(w.index) = Make<T>(w.value); break;
    case Write::kPush: v.push_back(Make<T>(w.value)); break;
    case Write::kUpdate: v.at(w.index) = Make<T>(ValueOf(v.at(w.index)) + w.value); break;
    case Write::kTransform:
      for (T& x : v) x = Make<T>(ValueOf(x) + w.value);
      break;
    default: FAIL("not an element write");
  }
}

void ApplyModel(Contents& c, const std::vector<Write>& writes) {
  for (const Write& w : writes) {
    if (w.kind == Write::kCreate) {
      c[w.dataset] = Initial(w.dataset, w.index, w.value);
    } else if (w.kind == Write::kDrop) {
      REQUIRE(c.erase(w.dataset) == 1);
    } else {
      const auto it = c.find(w.dataset);
      REQUIRE(it != c.end());
      std::visit([&w](auto& v) { ApplyToVector(v, w); }, it->second);
    }
  }
}

// Applies the writes to a transaction. Returns the first error status (as text), if any; an
// injected exception propagates.
template <class T>
std::string ApplyTyped(Transaction& t, const Write& w) {
  if (w.kind == Write::kCreate) {
    const DatasetModel init = Initial(w.dataset, w.index, w.value);
    const auto& v = std::get<std::vector<T>>(init);
    const absl::Status s = t.Create<T>(w.dataset, pvec<T>(v.begin(), v.end()));
    return s.ok() ? "" : s.ToString();
  }
  absl::StatusOr<typename pvec<T>::editor*> e = t.Edit<T>(w.dataset);
  if (!e.ok()) return e.status().ToString();
  auto& ed = **e;
  switch (w.kind) {
    case Write::kSet: ed.set(w.index, Make<T>(w.value)); break;
    case Write::kPush: ed.push_back(Make<T>(w.value)); break;
    case Write::kUpdate:
      ed.update(w.index, [d = w.value](const T& x) { return Bump(x, d); });
      break;
    case Write::kTransform: ed.transform([d = w.value](const T& x) { return Bump(x, d); }); break;
    default: break;
  }
  return "";
}

std::string ApplyTxn(Transaction& t, const std::vector<Write>& writes) {
  for (const Write& w : writes) {
    std::string error;
    if (w.kind == Write::kDrop) {
      const absl::Status s = t.Drop(w.dataset);
      if (!s.ok()) error = s.ToString();
    } else if (IsElem(w.dataset)) {
      error = ApplyTyped<Elem>(t, w);
    } else {
      error = ApplyTyped<I64>(t, w);
    }
    if (!error.empty())
      return fmt::format("{} on {}: {}", static_cast<int>(w.kind), w.dataset, error);
  }
  return "";
}

// Three-way merge of two vectors, as merge.h defines it for the cases these worlds produce (at
// most one side changes the length): per index, a side that kept the base value takes the other
// side's; both changed to different values is a conflict, settled by `side` when given.
template <class T>
struct VectorMerge {
  std::vector<T> merged;
  std::vector<std::size_t> conflicts;
};

template <class T>
VectorMerge<T> MergeVectors(const std::vector<T>& b, const std::vector<T>& o,
                            const std::vector<T>& t, std::optional<cowdb::merge_side> side) {
  REQUIRE((o.size() == b.size() || t.size() == b.size()));
  const std::size_t n = o.size() != b.size() ? o.size() : t.size();
  auto at = [](const std::vector<T>& v, std::size_t i) -> const T* {
    return i < v.size() ? &v[i] : nullptr;
  };
  auto same = [](const T* x, const T* y) { return x == nullptr ? y == nullptr : y && *x == *y; };
  VectorMerge<T> out;
  for (std::size_t i = 0; i < n; ++i) {
    const T *bi = at(b, i), *oi = at(o, i), *ti = at(t, i);
    const T* pick = oi;
    if (same(oi, ti) || same(ti, bi)) {
      pick = oi;
    } else if (same(oi, bi)) {
      pick = ti;
    } else if (side) {
      pick = *side == cowdb::merge_side::kOurs ? oi : ti;
    } else {
      out.conflicts.push_back(i);
    }
    if (pick == nullptr) FAIL("MergeVectors: no value at index " << i);
    out.merged.push_back(*pick);
  }
  return out;
}

// The catalog-level merge of Database::Merge for these worlds (no dataset created or dropped on
// both sides). Conflicts as (dataset, index).
struct ContentsMerge {
  Contents merged;
  std::vector<Conflict> conflicts;
};

ContentsMerge MergeContents(const Contents& b, const Contents& o, const Contents& t,
                            std::optional<cowdb::merge_side> side) {
  std::set<std::string> names;
  for (const Contents* c : {&b, &o, &t}) {
    for (const auto& [name, d] : *c) names.insert(name);
  }
  ContentsMerge out;
  for (const std::string& name : names) {
    const auto find = [&name](const Contents& c) -> const DatasetModel* {
      const auto it = c.find(name);
      return it == c.end() ? nullptr : &it->second;
    };
    const DatasetModel *bd = find(b), *od = find(o), *td = find(t);
    const auto same = [](const DatasetModel* x, const DatasetModel* y) {
      return x == nullptr ? y == nullptr : y != nullptr && *x == *y;
    };
    if (same(od, td) || same(td, bd)) {
      if (od) out.merged.emplace(name, *od);
    } else if (same(od, bd)) {
      if (td) out.merged.emplace(name, *td);
    } else {
      REQUIRE((bd && od && td));  // not produced by these worlds
      std::visit(
          [&](const auto& bv) {
            using V = std::decay_t<decltype(bv)>;
            auto m = MergeVectors(bv, std::get<V>(*od), std::get<V>(*td), side);
            for (std::size_t i : m.conflicts) out.conflicts.push_back(ConflictAt(name, i));
            out.merged.emplace(name, std::move(m.merged));
          },
          *bd);
    }
  }
  return out;
}

// ---- the database world -------------------------------------------------------------------------

struct VersionModel {
  Contents contents;
  std::vector<std::uint64_t> parents;
};

struct DbWorld {
  std::unique_ptr<Database> db;
  std::map<std::uint64_t, VersionModel> versions;               // every retained version
  std::map<std::uint64_t, std::vector<std::uint64_t>> parents;  // every version ever made
  std::map<std::string, std::uint64_t> branches;
  std::map<std::string, std::uint64_t> tags;
  std::vector<std::pair<Snapshot, Contents>> held;  // snapshots the application keeps
  std::vector<std::string> errors;                  // found by the operation itself
  bool handled = false;  // the operation caught an injected exception and checked its state

  const Contents& HeadContents(const std::string& branch) const {
    return versions.at(branches.at(branch)).contents;
  }
  void AddVersion(VersionId id, Contents contents, std::vector<std::uint64_t> ps) {
    parents[id.value] = ps;
    versions[id.value] = VersionModel{std::move(contents), std::move(ps)};
  }
  void Expect(bool cond, std::string what) {
    if (!cond) errors.push_back(std::move(what));
  }
};

// Commits `writes` on `branch` (never armed); updates the model.
VersionId CommitWrites(DbWorld& w, const std::string& branch, const std::vector<Write>& writes) {
  Transaction t = Ok(w.db->Begin(branch));
  const std::string error = ApplyTxn(t, writes);
  INFO(error);
  REQUIRE(error.empty());
  const VersionId v = Ok(t.Commit("setup"));
  Contents c = w.HeadContents(branch);
  ApplyModel(c, writes);
  w.AddVersion(v, std::move(c), {w.branches.at(branch)});
  w.branches[branch] = v.value;
  return v;
}

void AddBranch(DbWorld& w, const std::string& name, const std::string& from) {
  Ok(w.db->CreateBranch(name, from));
  w.branches[name] = w.branches.at(from);
}

// The world every database operation starts from:
//   v1 -- v2 load: a (int64 x 3000: 6 chunks), b (int64 x 700), e (Elem x 300: 5 chunks)
//          |                                                                      <- tag "load"
//          |-- v3 feat: a[5], a[100], a[2600], e[7], b.push_back                  <- branch feat
//          `-- v4 main: a[6], a[100], a[1600], e[8], e[250]; creates c            <- tag "t4"
//                |-- v5 side: a[1601], e[9], c[0]                                  <- branch side
//                `-- v6 main: a[1602], b[3], e[10]                                 <- branch main
// feat and main both wrote a[100] (a conflict for Database::Merge); side and main wrote different
// elements of the same chunks (an element-level merge). Snapshots of v3 and v4 are held.
DbWorld MakeWorld(const Options& options) {
  DbWorld w;
  w.db = Database::Open(options);
  w.AddVersion(VersionId{1}, {}, {});
  w.branches["main"] = 1;
  CommitWrites(w, "main", {Create("a", 3000, 0), Create("b", 700, 10000), Create("e", 300, 0)});
  Ok(w.db->CreateTag("load", "main"));
  w.tags["load"] = w.branches["main"];
  AddBranch(w, "feat", "main");
  CommitWrites(w, "feat",
               {Set("a", 5, -5), Set("a", 100, -100), Set("a", 2600, -2600), Set("e", 7, -7),
                Push("b", -1)});
  CommitWrites(w, "main",
               {Set("a", 6, -6), Set("a", 100, -1000), Set("a", 1600, -1600), Set("e", 8, -8),
                Set("e", 250, -250), Create("c", 600, 50000)});
  Ok(w.db->CreateTag("t4", "main"));
  w.tags["t4"] = w.branches["main"];
  AddBranch(w, "side", "main");
  CommitWrites(w, "side", {Set("a", 1601, -1601), Set("e", 9, -9), Set("c", 0, -1)});
  CommitWrites(w, "main", {Set("a", 1602, -1602), Set("b", 3, -3), Set("e", 10, -10)});
  for (const std::uint64_t id : {w.branches["feat"], w.tags["t4"]}) {
    w.held.emplace_back(Ok(w.db->OpenSnapshot(VersionId{id})), w.versions.at(id).contents);
  }
  REQUIRE(w.branches["main"] == 6);
  return w;
}

template <class T, std::size_t C, std::size_t F>
std::string CompareVector(const pvec<T, C, F>& p, const std::vector<T>& m) {
  if (p.size() != m.size()) return fmt::format("size {}, model {}", p.size(), m.size());
  std::size_t i = 0;
  for (const T& x : p) {
    if (!(x == m[i])) return fmt::format("[{}] is {}, model {}", i, ValueOf(x), ValueOf(m[i]));
    ++i;
  }
  return "";
}

std::string CompareSnapshot(const Snapshot& s, const Contents& c) {
  const std::vector<cowdb::DatasetInfo> infos = s.Datasets();
  std::vector<std::string> names;
  for (const cowdb::DatasetInfo& d : infos) names.push_back(d.name);
  std::vector<std::string> want;
  for (const auto& [name, d] : c) want.push_back(name);
  if (names != want) {
    return fmt::format("{} holds datasets {}, model {}", s.id(), fmt::join(names, ","),
                       fmt::join(want, ","));
  }
  for (const auto& [name, d] : c) {
    std::string e;
    if (const auto* iv = std::get_if<I64Vec>(&d)) {
      const absl::StatusOr<pvec<I64>> p = s.Get<I64>(name);
      e = p.ok() ? CompareVector(*p, *iv) : p.status().ToString();
    } else {
      const absl::StatusOr<pvec<Elem>> p = s.Get<Elem>(name);
      e = p.ok() ? CompareVector(*p, std::get<ElemVec>(d)) : p.status().ToString();
    }
    if (!e.empty()) return fmt::format("{} dataset {}: {}", s.id(), name, e);
  }
  return "";
}

std::string CheckWorld(const DbWorld& w) {
  if (!w.errors.empty()) return w.errors.front();
  std::map<std::string, std::uint64_t> branches, tags;
  for (const cowdb::BranchInfo& b : w.db->Branches()) branches[b.name] = b.head.value;
  for (const cowdb::BranchInfo& t : w.db->Tags()) tags[t.name] = t.head.value;
  const auto show = [](const std::map<std::string, std::uint64_t>& m) {
    std::string s;
    for (const auto& [name, id] : m) s += fmt::format(" {}@v{}", name, id);
    return s;
  };
  if (branches != w.branches) {
    return fmt::format("branches:{}; model:{}", show(branches), show(w.branches));
  }
  if (tags != w.tags) return fmt::format("tags:{}; model:{}", show(tags), show(w.tags));
  const std::size_t retained = w.db->GetMemoryReport().versions;
  if (retained != w.versions.size()) {
    return fmt::format("{} versions retained, model {}", retained, w.versions.size());
  }
  for (const auto& [id, vm] : w.versions) {
    const absl::StatusOr<Snapshot> s = w.db->OpenSnapshot(VersionId{id});
    if (!s.ok()) return fmt::format("v{}: {}", id, s.status().ToString());
    std::vector<std::uint64_t> ps;
    for (VersionId p : s->info().parents) ps.push_back(p.value);
    if (ps != vm.parents) return fmt::format("v{} has other parents than its model", id);
    if (std::string e = CompareSnapshot(*s, vm.contents); !e.empty()) return e;
  }
  for (const auto& [snap, contents] : w.held) {
    if (std::string e = CompareSnapshot(snap, contents); !e.empty()) return "held snapshot " + e;
  }
  return "";
}

// The database still works: a commit on every branch lands and reads back.
std::string CheckUsable(DbWorld& w) {
  const std::vector<std::string> branches = [&w] {
    std::vector<std::string> out;
    for (const auto& [name, id] : w.branches) out.push_back(name);
    return out;
  }();
  for (const std::string& branch : branches) {
    absl::StatusOr<Transaction> t = w.db->Begin(branch);
    if (!t.ok()) return fmt::format("Begin({}) after the fault: {}", branch, t.status().ToString());
    absl::StatusOr<pvec<I64>::editor*> e = t->Edit<I64>("a");
    if (!e.ok()) return fmt::format("Edit on {}: {}", branch, e.status().ToString());
    (*e)->set(2, 424242);
    (*e)->push_back(7);
    absl::StatusOr<VersionId> v = t->Commit("still usable");
    if (!v.ok())
      return fmt::format("Commit on {} after the fault: {}", branch, v.status().ToString());
    Contents c = w.HeadContents(branch);
    ApplyModel(c, {Set("a", 2, 424242), Push("a", 7)});
    w.AddVersion(*v, std::move(c), {w.branches.at(branch)});
    w.branches[branch] = v->value;
  }
  return CheckWorld(w);
}

// ---- the database operations --------------------------------------------------------------------

struct DbOp {
  std::string name;
  unsigned faults;  // node/copy/functor faults the operation runs into (at least once), no others
  Options options;
  std::function<void(DbWorld&)> run;
};

// Runs a call that must succeed; an error status is recorded (an injected fault must not turn
// into a status).
template <class T>
std::optional<T> Expect(DbWorld& w, absl::StatusOr<T> s, std::string_view what) {
  if (s.ok()) return *std::move(s);
  w.errors.push_back(fmt::format("{}: {}", what, s.status().ToString()));
  return std::nullopt;
}

bool Expect(DbWorld& w, const absl::Status& s, std::string_view what) {
  if (s.ok()) return true;
  w.errors.push_back(fmt::format("{}: {}", what, s.ToString()));
  return false;
}

// After Commit threw: the transaction is finished, and says so.
void CheckFinishedAfterThrow(DbWorld& w, Transaction& t) {
  w.Expect(!t.active(), "the transaction is still active after Commit threw");
  const absl::Status again = t.Commit("again").status();
  w.Expect(absl::IsFailedPrecondition(again),
           "a second Commit after a throwing one returned " + again.ToString());
}

// A transaction with writes of every kind, armed from Begin to Commit (a pointer-swap commit).
void WholeTransaction(DbWorld& w) {
  const std::vector<Write> writes = {
      Set("a", 0, -1), Set("a", 2999, -2999), Set("e", 200, -200),      Push("e", -7777),
      Push("b", 1),    Update("e", 3, 1000),  Create("n", 1000, 70000), Create("en", 100, 80000),
      Drop("c")};
  Contents want = w.HeadContents("main");
  ApplyModel(want, writes);
  std::optional<VersionId> v;
  g_inj.Armed([&] {
    absl::StatusOr<Transaction> t = w.db->Begin("main");
    if (!Expect(w, t.status(), "Begin")) return;
    const std::string error = ApplyTxn(*t, writes);
    w.Expect(error.empty(), error);
    v = Expect(w, t->Commit("whole transaction"), "Commit");
  });
  if (!v) return;
  w.AddVersion(*v, std::move(want), {w.branches["main"]});
  w.branches["main"] = v->value;
}

// Writes made unarmed; only Commit is armed. With `concurrent`, another transaction commits on
// the same branch first, so that Commit merges three-way against the moved head.
void CommitOnly(DbWorld& w, const std::vector<Write>& ours, const std::vector<Write>* concurrent,
                const std::vector<Conflict>& conflicts = {}) {
  Transaction t = Ok(w.db->Begin("main"));
  const std::string error = ApplyTxn(t, ours);
  INFO(error);
  REQUIRE(error.empty());
  if (concurrent != nullptr) CommitWrites(w, "main", *concurrent);
  Contents want = w.HeadContents("main");
  ApplyModel(want, ours);
  absl::StatusOr<VersionId> v = absl::UnknownError("not run");
  try {
    g_inj.Armed([&] { v = t.Commit("commit only"); });
  } catch (...) {
    CheckFinishedAfterThrow(w, t);
    throw;
  }
  if (!conflicts.empty()) {
    w.Expect(absl::IsAborted(v.status()), "a conflicting commit returned " + v.status().ToString());
    w.Expect(ConflictRows(t.conflicts()) == conflicts, "other conflicts than the model's");
    return;
  }
  if (!Expect(w, v.status(), "Commit")) return;
  w.AddVersion(*v, std::move(want), {w.branches["main"]});
  w.branches["main"] = v->value;
}

// Database::Merge(source, target) with a policy; the model merges against `base`. `conflicting`:
// whether the two branches wrote an element differently (checked on the model).
void MergeOp(DbWorld& w, const std::string& source, const std::string& target, std::uint64_t base,
             MergePolicy policy, bool conflicting) {
  REQUIRE(MergeContents(w.versions.at(base).contents, w.HeadContents(target),
                        w.HeadContents(source), std::nullopt)
              .conflicts.empty() == !conflicting);
  std::optional<cowdb::merge_side> side;
  if (policy == MergePolicy::kOurs) side = cowdb::merge_side::kOurs;
  if (policy == MergePolicy::kTheirs) side = cowdb::merge_side::kTheirs;
  const ContentsMerge m = MergeContents(w.versions.at(base).contents, w.HeadContents(target),
                                        w.HeadContents(source), side);
  std::vector<Conflict> conflicts;
  absl::StatusOr<VersionId> v = absl::UnknownError("not run");
  g_inj.Armed([&] { v = w.db->Merge(source, target, "merge", policy, &conflicts); });
  if (!m.conflicts.empty()) {
    w.Expect(absl::IsAborted(v.status()), "a conflicting merge returned " + v.status().ToString());
    w.Expect(ConflictRows(conflicts) == m.conflicts, "other merge conflicts than the model's");
    return;
  }
  if (!Expect(w, v.status(), "Merge")) return;
  w.AddVersion(*v, m.merged, {w.branches.at(target), w.branches.at(source)});
  w.branches[target] = v->value;
}

// The versions Prune keeps: for each branch and tag, its head and the versions at most
// `keep_last` parent steps from it (options.h), among those still retained.
// Branches keep `keep_last` versions behind their heads, tags their own version.
std::set<std::uint64_t> ModelRetained(const DbWorld& w, std::size_t keep_last) {
  std::set<std::uint64_t> keep;
  for (const auto* refs : {&w.branches, &w.tags}) {
    const std::size_t window = refs == &w.tags ? 0 : keep_last;
    for (const auto& [name, head] : *refs) {
      std::vector<std::uint64_t> level{head};
      for (std::size_t dist = 0; dist <= window && !level.empty(); ++dist) {
        std::vector<std::uint64_t> next;
        for (std::uint64_t id : level) {
          if (w.versions.contains(id)) keep.insert(id);
          for (std::uint64_t p : w.parents.at(id)) next.push_back(p);
        }
        level = std::move(next);
      }
    }
  }
  return keep;
}

// The dataset-level diff from one model to another.
struct DiffModel {
  std::vector<std::string> added, removed;
  std::vector<std::string> changed;  // "name modified/appended/truncated"
};

DiffModel ModelDiff(const Contents& from, const Contents& to) {
  DiffModel out;
  for (const auto& [name, d] : from) {
    const auto it = to.find(name);
    if (it == to.end() || it->second.index() != d.index()) {
      out.removed.push_back(name);
    } else if (!(it->second == d)) {
      std::visit(
          [&](const auto& a) {
            const auto& b = std::get<std::decay_t<decltype(a)>>(it->second);
            std::size_t modified = 0;
            for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) modified += !(a[i] == b[i]);
            const std::size_t appended = b.size() > a.size() ? b.size() - a.size() : 0;
            const std::size_t truncated = a.size() > b.size() ? a.size() - b.size() : 0;
            out.changed.push_back(fmt::format("{} {}/{}/{}", name, modified, appended, truncated));
          },
          d);
    }
  }
  for (const auto& [name, d] : to) {
    const auto it = from.find(name);
    if (it == from.end() || it->second.index() != d.index()) out.added.push_back(name);
  }
  return out;
}

void DiffOp(DbWorld& w, std::uint64_t from, std::uint64_t to) {
  const DiffModel want = ModelDiff(w.versions.at(from).contents, w.versions.at(to).contents);
  absl::StatusOr<cowdb::DatabaseDiff> d = absl::UnknownError("not run");
  g_inj.Armed([&] { d = w.db->Diff(VersionId{from}, VersionId{to}); });
  if (!Expect(w, d.status(), "Diff")) return;
  std::vector<std::string> changed;
  for (const cowdb::DatasetChange& c : d->changed) {
    changed.push_back(fmt::format("{} {}/{}/{}", c.name, c.modified, c.appended, c.truncated));
    w.Expect(!c.text.empty(), "no diff text for " + c.name);
  }
  w.Expect(d->added == want.added, "Diff: other datasets added than the model's");
  w.Expect(d->removed == want.removed, "Diff: other datasets removed than the model's");
  w.Expect(changed == want.changed,
           fmt::format("Diff changed: {}; model: {}", fmt::join(changed, ", "),
                       fmt::join(want.changed, ", ")));
}

// Editor writes inside a transaction, each armed on its own, around freezes (Get, which runs the
// editor's persistent(), and persistent() itself). When a write throws, the editor must hold its
// previous contents, every frozen version its own, and the transaction goes on: its commit
// publishes exactly the writes that completed.
void EditorWithFreezes(DbWorld& w) {
  Transaction t = Ok(w.db->Begin("main"));
  pvec<Elem>::editor* ed = Ok(t.Edit<Elem>("e"));
  ed->set(0, Elem(-11));
  Contents model = w.HeadContents("main");
  ApplyModel(model, {Set("e", 0, -11)});
  std::vector<std::pair<pvec<Elem>, ElemVec>> frozen;
  frozen.emplace_back(Ok(t.Get<Elem>("e")), std::get<ElemVec>(model.at("e")));

  const std::vector<Write> steps = {Set("e", 1, -12),     Push("e", -13),     Update("e", 2, 5),
                                    TransformAll("e", 1), Set("e", 299, -14), Push("b", -15),
                                    Update("a", 3, 7)};
  for (std::size_t s = 0; s < steps.size(); ++s) {
    bool threw = false;
    try {
      g_inj.Armed([&] {
        const std::string error = ApplyTxn(t, {steps[s]});
        w.Expect(error.empty(), error);
      });
    } catch (...) {
      threw = true;
      w.handled = true;
    }
    if (!threw) ApplyModel(model, {steps[s]});
    // The transaction reads its own completed writes, and only those.
    for (const auto& [name, d] : model) {
      std::string e;
      if (const auto* iv = std::get_if<I64Vec>(&d)) {
        e = CompareVector(Ok(t.Get<I64>(name)), *iv);
      } else {
        e = CompareVector(Ok(t.Get<Elem>(name)), std::get<ElemVec>(d));
      }
      w.Expect(e.empty(),
               fmt::format("after step {}{}: {}: {}", s, threw ? " (threw)" : "", name, e));
    }
    for (const auto& [p, m] : frozen) {
      const std::string e = CompareVector(p, m);
      w.Expect(e.empty(), fmt::format("a frozen version changed at step {}: {}", s, e));
    }
    if (threw) break;
    if (s % 2 == 1) {
      frozen.emplace_back(ed->persistent(), std::get<ElemVec>(model.at("e")));
    } else {
      frozen.emplace_back(Ok(t.Get<Elem>("e")), std::get<ElemVec>(model.at("e")));
    }
  }
  REQUIRE(t.active());
  const VersionId v = Ok(t.Commit("editor with freezes"));
  w.AddVersion(v, std::move(model), {w.branches["main"]});
  w.branches["main"] = v.value;
}

template <class Fn>
void RefOp(DbWorld& w, Fn&& call) {
  absl::Status s = absl::UnknownError("not run");
  g_inj.Armed([&] { s = call(); });
  Expect(w, s, "branch/tag operation");
}

std::vector<DbOp> DbOps() {
  const unsigned kNC = kNodeAlloc | kCopy;
  const Options kKeep1{.keep_last_versions = 1};
  std::vector<DbOp> ops;
  ops.push_back({"Commit: a whole transaction, Begin to Commit (pointer swap)",
                 kNodeAlloc | kCopy | kFunctor,
                 {},
                 WholeTransaction});
  ops.push_back({"Commit alone, pointer swap", 0, {}, [](DbWorld& w) {
                   const std::vector<Write> ours = {Set("a", 7, -7), Set("e", 11, -11),
                                                    Push("b", 5), Create("n", 600, 0)};
                   CommitOnly(w, ours, nullptr);
                 }});
  ops.push_back(
      {"Commit alone, three-way merge against a moved head", kNC, {}, [](DbWorld& w) {
         // Same chunks as the concurrent commit, other elements: merged per element.
         const std::vector<Write> ours = {Set("a", 7, -7), Set("a", 2000, -2000), Set("e", 11, -11),
                                          Set("b", 699, -699), Set("c", 5, -5)};
         const std::vector<Write> theirs = {Set("a", 8, -8), Set("e", 12, -12), Set("b", 0, -10000),
                                            Set("c", 6, -6), Create("n", 100, 0)};
         CommitOnly(w, ours, &theirs);
       }});
  ops.push_back({"Commit alone, three-way merge with a write-write conflict (kAborted)",
                 kNC,
                 {},
                 [](DbWorld& w) {
                   const std::vector<Write> ours = {Set("a", 7, -7), Set("e", 11, -11)};
                   const std::vector<Write> theirs = {Set("a", 7, -77), Set("e", 12, -12)};
                   CommitOnly(w, ours, &theirs, {ConflictAt("a", 7)});
                 }});
  ops.push_back({"Merge: fast-forward", 0, {}, [](DbWorld& w) {
                   AddBranch(w, "ff", "main");
                   CommitWrites(w, "ff", {Set("a", 9, -9), Set("e", 13, -13)});
                   std::optional<VersionId> v;
                   g_inj.Armed([&] { v = Expect(w, w.db->Merge("ff", "main", "ff"), "Merge"); });
                   if (v) w.branches["main"] = v->value;
                 }});
  ops.push_back({"Merge: three-way, no conflict (kFail)", kNC, {}, [](DbWorld& w) {
                   MergeOp(w, "side", "main", 4, MergePolicy::kFail, false);
                 }});
  ops.push_back({"Merge: three-way, a conflict resolved by kOurs", kNC, {}, [](DbWorld& w) {
                   MergeOp(w, "feat", "main", 2, MergePolicy::kOurs, true);
                 }});
  ops.push_back({"Merge: three-way, a conflict resolved by kTheirs", kNC, {}, [](DbWorld& w) {
                   MergeOp(w, "feat", "main", 2, MergePolicy::kTheirs, true);
                 }});
  ops.push_back({"Merge: three-way, a conflict with kFail (kAborted)", kNC, {}, [](DbWorld& w) {
                   MergeOp(w, "main", "feat", 2, MergePolicy::kFail, true);
                 }});
  ops.push_back(
      {"Prune (keep_last_versions = 1, a branch and a tag deleted)", 0, kKeep1, [](DbWorld& w) {
         Ok(w.db->DeleteBranch("feat"));
         w.branches.erase("feat");
         Ok(w.db->DeleteTag("load"));
         w.tags.erase("load");
         const std::set<std::uint64_t> keep = ModelRetained(w, 1);
         const std::size_t want = w.versions.size() - keep.size();
         REQUIRE(want >= 2);  // v1 and v3 (held by a snapshot)
         std::size_t pruned = 0;
         g_inj.Armed([&] { pruned = w.db->Prune(); });
         w.Expect(pruned == want, fmt::format("Prune forgot {}, model {}", pruned, want));
         std::erase_if(w.versions, [&keep](const auto& v) { return !keep.contains(v.first); });
       }});
  ops.push_back({"Diff between branches (v3 -> v6)", 0, {}, [](DbWorld& w) { DiffOp(w, 3, 6); }});
  ops.push_back({"Diff along history (v2 -> v5)", 0, {}, [](DbWorld& w) { DiffOp(w, 2, 5); }});
  ops.push_back({"Log of a branch with a merge in its history", 0, {}, [](DbWorld& w) {
                   AddBranch(w, "m", "main");
                   const VersionId v7 = Ok(w.db->Merge("side", "m", "setup"));  // not armed
                   w.AddVersion(v7,
                                MergeContents(w.versions.at(4).contents, w.HeadContents("m"),
                                              w.HeadContents("side"), std::nullopt)
                                    .merged,
                                {w.branches["m"], w.branches["side"]});
                   w.branches["m"] = v7.value;
                   // The model: every retained ancestor of m's head, newest first.
                   std::set<std::uint64_t> want_ids;
                   std::vector<std::uint64_t> todo{w.branches["m"]};
                   while (!todo.empty()) {
                     const std::uint64_t id = todo.back();
                     todo.pop_back();
                     if (!w.versions.contains(id) || !want_ids.insert(id).second) continue;
                     for (std::uint64_t p : w.parents.at(id)) todo.push_back(p);
                   }
                   const std::vector<std::uint64_t> want(want_ids.rbegin(), want_ids.rend());
                   absl::StatusOr<cowdb::History> log = absl::UnknownError("");
                   g_inj.Armed([&] { log = w.db->Log("m"); });
                   if (!Expect(w, log.status(), "Log")) return;
                   std::vector<std::uint64_t> got;
                   for (const cowdb::VersionInfo& v : *log) got.push_back(v.id.value);
                   w.Expect(got == want, fmt::format("Log: {}; model: {}", fmt::join(got, ","),
                                                     fmt::join(want, ",")));
                 }});
  ops.push_back({"GetMemoryReport", 0, {}, [](DbWorld& w) {
                   std::optional<cowdb::MemoryReport> r;
                   g_inj.Armed([&] { r = w.db->GetMemoryReport(); });
                   std::vector<std::string> names;
                   for (const cowdb::RefMemory& b : r->branches) names.push_back(b.name);
                   w.Expect(names == std::vector<std::string>{"feat", "main", "side"},
                            "memory report branches: " + fmt::format("{}", fmt::join(names, ",")));
                   w.Expect(r->versions == w.versions.size(), "memory report version count");
                   w.Expect(r->total_bytes > 0, "memory report total");
                 }});
  ops.push_back({"editor writes around persistent() and Get in a transaction",
                 kNodeAlloc | kCopy | kFunctor,
                 {},
                 EditorWithFreezes});
  ops.push_back({"Create and Drop datasets, Begin to Commit", kNC, {}, [](DbWorld& w) {
                   const std::vector<Write> writes = {Create("x", 2000, 1), Create("ex", 100, 2),
                                                      Drop("b"), Drop("e")};
                   Contents want = w.HeadContents("main");
                   ApplyModel(want, writes);
                   std::optional<VersionId> v;
                   g_inj.Armed([&] {
                     absl::StatusOr<Transaction> t = w.db->Begin("main");
                     if (!Expect(w, t.status(), "Begin")) return;
                     const std::string error = ApplyTxn(*t, writes);
                     w.Expect(error.empty(), error);
                     v = Expect(w, t->Commit("create and drop"), "Commit");
                   });
                   if (!v) return;
                   w.AddVersion(*v, std::move(want), {w.branches["main"]});
                   w.branches["main"] = v->value;
                 }});
  ops.push_back(
      {"CreateBranch from a branch", 0, {}, [](DbWorld& w) {
         RefOp(w, [&] { return w.db->CreateBranch("a-new-branch-with-a-long-name", "feat"); });
         if (w.errors.empty()) w.branches["a-new-branch-with-a-long-name"] = w.branches["feat"];
       }});
  ops.push_back(
      {"CreateBranch at a version", 0, {}, [](DbWorld& w) {
         RefOp(w, [&] { return w.db->CreateBranch("at-v5-with-a-long-name", VersionId{5}); });
         if (w.errors.empty()) w.branches["at-v5-with-a-long-name"] = 5;
       }});
  ops.push_back({"RenameBranch", 0, {}, [](DbWorld& w) {
                   RefOp(w,
                         [&] { return w.db->RenameBranch("feat", "feature-renamed-long-name"); });
                   if (!w.errors.empty()) return;
                   w.branches["feature-renamed-long-name"] = w.branches["feat"];
                   w.branches.erase("feat");
                 }});
  ops.push_back({"DeleteBranch", 0, {}, [](DbWorld& w) {
                   RefOp(w, [&] { return w.db->DeleteBranch("side"); });
                   if (w.errors.empty()) w.branches.erase("side");
                 }});
  ops.push_back({"CreateTag from a branch", 0, {}, [](DbWorld& w) {
                   RefOp(w, [&] { return w.db->CreateTag("a-new-tag-with-a-long-name", "side"); });
                   if (w.errors.empty()) w.tags["a-new-tag-with-a-long-name"] = w.branches["side"];
                 }});
  ops.push_back(
      {"CreateTag at a version", 0, {}, [](DbWorld& w) {
         RefOp(w, [&] { return w.db->CreateTag("tag-at-v3-with-a-long-name", VersionId{3}); });
         if (w.errors.empty()) w.tags["tag-at-v3-with-a-long-name"] = 3;
       }});
  ops.push_back({"DeleteTag", 0, {}, [](DbWorld& w) {
                   RefOp(w, [&] { return w.db->DeleteTag("load"); });
                   if (w.errors.empty()) w.tags.erase("load");
                 }});
  return ops;
}

// ---- the pvec world: diff.h and merge.h ---------------------------------------------------------

// 2 elements per chunk, fan-out 2: 300 elements make a tree 8 levels deep.
using PV = pvec<Elem, 2 * sizeof(Elem), 2>;

struct PvecWorld {
  // base; ours and theirs derived from it (a conflict at 120, other writes in shared chunks,
  // theirs appends); `rebuilt` has base's elements in nodes of its own.
  std::vector<std::pair<PV, ElemVec>> inputs;
  std::vector<std::pair<PV, ElemVec>> results;
  std::vector<std::string> errors;
  bool handled = false;
  const PV& base() const { return inputs[0].first; }
  const PV& ours() const { return inputs[1].first; }
  const PV& theirs() const { return inputs[2].first; }
  const PV& rebuilt() const { return inputs[3].first; }
  const ElemVec& model(std::size_t i) const { return inputs[i].second; }
};

PvecWorld MakePvecWorld() {
  PvecWorld w;
  const ElemVec mb = std::get<ElemVec>(Initial("e", 301, 0));
  const PV base(mb.begin(), mb.end());
  ElemVec mo = mb, mt = mb;
  auto ed_o = base.transient();
  for (const auto& [i, v] : std::vector<std::pair<std::size_t, I64>>{
           {3, -3}, {50, -50}, {51, -51}, {120, -120}, {200, -200}}) {
    ed_o.set(i, Elem(v));
    mo[i] = Elem(v);
  }
  auto ed_t = base.transient();
  for (const auto& [i, v] : std::vector<std::pair<std::size_t, I64>>{
           {2, 10002}, {52, 10052}, {120, 10120}, {150, 10150}, {300, 10300}}) {
    ed_t.set(i, Elem(v));
    mt[i] = Elem(v);
  }
  for (I64 x = 1; x <= 3; ++x) {
    ed_t.push_back(Elem(1000 + x));
    mt.emplace_back(1000 + x);
  }
  w.inputs.emplace_back(base, mb);
  w.inputs.emplace_back(std::move(ed_o).persistent(), mo);
  w.inputs.emplace_back(std::move(ed_t).persistent(), mt);
  w.inputs.emplace_back(PV(mb.begin(), mb.end()), mb);
  return w;
}

std::string CheckPvecWorld(const PvecWorld& w) {
  if (!w.errors.empty()) return w.errors.front();
  for (std::size_t i = 0; i < w.inputs.size(); ++i) {
    if (std::string e = CompareVector(w.inputs[i].first, w.inputs[i].second); !e.empty()) {
      return fmt::format("input {}: {}", i, e);
    }
  }
  for (std::size_t i = 0; i < w.results.size(); ++i) {
    if (std::string e = CompareVector(w.results[i].first, w.results[i].second); !e.empty()) {
      return fmt::format("result {}: {}", i, e);
    }
  }
  return "";
}

struct PvecOp {
  std::string name;
  unsigned faults;
  std::function<void(PvecWorld&)> run;
};

std::vector<PvecOp> PvecOps() {
  const unsigned kNC = kNodeAlloc | kCopy;
  using cowdb::merge_mode;
  using cowdb::merge_side;
  std::vector<PvecOp> ops;
  ops.push_back({"diff, its iteration and its formatting", 0, [](PvecWorld& w) {
                   const ElemVec &mb = w.model(0), &mt = w.model(2);
                   std::size_t modified = 0;
                   for (std::size_t i = 0; i < mb.size(); ++i) modified += !(mb[i] == mt[i]);
                   std::size_t changes = 0, seen_modified = 0;
                   std::string text;
                   g_inj.Armed([&] {
                     const auto d = cowdb::diff(w.base(), w.theirs());
                     for (const auto& c : d) {
                       ++changes;
                       seen_modified += c.old_value != nullptr && c.new_value != nullptr;
                     }
                     text = fmt::format("{}", d);
                   });
                   if (seen_modified != modified || changes != modified + (mt.size() - mb.size())) {
                     w.errors.push_back(fmt::format("diff yields {} changes, {} modified", changes,
                                                    seen_modified));
                   }
                   if (text.empty()) w.errors.push_back("empty diff text");
                 }});
  ops.push_back({"patch of a rebuilt base", kNC, [](PvecWorld& w) {
                   std::optional<PV> out;
                   const auto d = cowdb::diff(w.base(), w.theirs());
                   g_inj.Armed([&] { out = cowdb::patch(w.rebuilt(), d); });
                   w.results.emplace_back(*out, w.model(2));
                 }});
  for (const merge_mode mode : {merge_mode::kValues, merge_mode::kWrites}) {
    ops.push_back({mode == merge_mode::kValues ? "merge (kValues), with a conflict"
                                               : "merge (kWrites), with a conflict",
                   kNC, [mode](PvecWorld& w) {
                     std::optional<cowdb::merge_result<Elem, 2 * sizeof(Elem), 2>> r;
                     g_inj.Armed([&] { r = cowdb::merge(w.base(), w.ours(), w.theirs(), mode); });
                     const auto m = MergeVectors(w.model(0), w.model(1), w.model(2), std::nullopt);
                     std::vector<std::size_t> got;
                     for (const auto& c : r->conflicts()) got.push_back(c.index);
                     if (got != m.conflicts) w.errors.push_back("other conflicts than the model's");
                     // The unfinished merge keeps ours at each conflict.
                     w.results.emplace_back(r->merged(), m.merged);
                   }});
  }
  for (const merge_side side : {merge_side::kOurs, merge_side::kTheirs}) {
    ops.push_back({side == merge_side::kOurs ? "merge with kOurs" : "merge with kTheirs", kNC,
                   [side](PvecWorld& w) {
                     std::optional<PV> out;
                     g_inj.Armed([&] { out = cowdb::merge(w.base(), w.ours(), w.theirs(), side); });
                     w.results.emplace_back(
                         *out, MergeVectors(w.model(0), w.model(1), w.model(2), side).merged);
                   }});
  }
  ops.push_back(
      {"merge_result::resolve(kTheirs)", kNC, [](PvecWorld& w) {
         const auto r = cowdb::merge(w.base(), w.ours(), w.theirs());
         REQUIRE(!r.ok());
         std::optional<PV> out;
         g_inj.Armed([&] { out = r.resolve(merge_side::kTheirs); });
         w.results.emplace_back(
             *out, MergeVectors(w.model(0), w.model(1), w.model(2), merge_side::kTheirs).merged);
         w.results.emplace_back(
             r.merged(), MergeVectors(w.model(0), w.model(1), w.model(2), std::nullopt).merged);
       }});
  ops.push_back({"shared_with and memory accounting", 0, [](PvecWorld& w) {
                   const auto want_shared = w.ours().shared_with(w.base());
                   const auto want_memory = w.ours().memory();
                   cowdb::memory_stats shared, memory;
                   g_inj.Armed([&] {
                     shared = w.ours().shared_with(w.base());
                     memory = w.ours().memory();
                   });
                   if (!(shared == want_shared) || !(memory == want_memory) || shared.leaves == 0 ||
                       shared.bytes >= memory.bytes) {
                     w.errors.push_back(
                         fmt::format("shared_with: {} bytes in {} leaves of {} (expected {} in {})",
                                     shared.bytes, shared.leaves, memory.bytes, want_shared.bytes,
                                     want_shared.leaves));
                   }
                 }});
  ops.push_back({"merge_result::resolve(fn)", kNodeAlloc | kCopy | kFunctor, [](PvecWorld& w) {
                   const auto r = cowdb::merge(w.base(), w.ours(), w.theirs());
                   REQUIRE(!r.ok());
                   std::optional<PV> out;
                   // fn: ours + theirs + 1, through a throwing functor.
                   g_inj.Armed([&] {
                     out = r.resolve([](const cowdb::merge_conflict<Elem>& c) {
                       return Bump(Elem(c.ours->v + c.theirs->v), 1);
                     });
                   });
                   auto m = MergeVectors(w.model(0), w.model(1), w.model(2), std::nullopt);
                   for (std::size_t i : m.conflicts) {
                     m.merged[i] = Elem(w.model(1)[i].v + w.model(2)[i].v + 1);
                   }
                   w.results.emplace_back(*out, m.merged);
                 }});
  return ops;
}

// ---- the driver ---------------------------------------------------------------------------------

struct Tally {
  int operations = 0;
  int injection_points = 0;  // attempts, the completing one included
  int failures = 0;          // attempts that ended in the injected fault
};

constexpr int kMaxAttempts = 5000;

// What an attempt ended with.
struct Attempt {
  bool completed = false;
  std::string wrong;  // an exception other than the injected one
};

template <class World, class Op>
Attempt RunOnce(World& w, const Op& op, Fault fault) {
  Attempt a;
  try {
    op.run(w);
    a.completed = true;
  } catch (const InjectedError& e) {
    if (e.fault != fault) a.wrong = fmt::format("InjectedError from the {}", FaultName(e.fault));
  } catch (const std::bad_alloc&) {
    if (fault != kNodeAlloc && fault != kAnyAlloc) a.wrong = "std::bad_alloc";
  } catch (const std::exception& e) {
    a.wrong = fmt::format("an unexpected exception: {}", e.what());
  }
  return a;
}

// Runs op with `fault` at k = 1, 2, ... until it completes; checks every attempt.
template <class Op, class MakeWorldFn, class CheckFn>
Tally RunWithFaults(const Op& op, Fault fault, MakeWorldFn make_world, CheckFn check) {
  Tally t;
  t.operations = 1;
  for (int k = 1;; ++k) {
    INFO(op.name << ": the " << FaultName(fault) << " fails at injection point " << k);
    if (k > kMaxAttempts) {
      FAIL_CHECK("the operation never completes");
      break;
    }
    ++t.injection_points;
    const std::int64_t nodes0 = live_nodes();
    Attempt a;
    bool fired = false;
    bool handled = false;
    std::string error;
    {
      auto w = make_world(op);
      g_inj.Arm(fault, k);
      a = RunOnce(w, op, fault);
      fired = g_inj.fired();
      g_inj.Disarm();
      handled = w.handled;
      error = check(w);
    }
    const std::int64_t leaked = live_nodes() - nodes0;
    if (!a.completed) ++t.failures;
    CHECK(a.wrong == "");
    CHECK(error == "");
    CHECK(leaked == 0);
    // A fault that fired must have been reported: by the exception, or caught and checked by the
    // operation itself.
    if (a.completed && fired) CHECK(handled);
    if (!a.completed && a.wrong.empty()) CHECK(fired);
    if (!a.wrong.empty() || !error.empty() || leaked != 0) break;
    if (a.completed && !fired) break;  // done: no k-th injection point
    if (a.completed && !handled) break;
    if (!a.completed && !fired) break;
    if (a.completed) ++t.failures;  // failed and handled inside the operation
  }
  if (fault != kAnyAlloc) {
    INFO(op.name << ": " << FaultName(fault) << " faults");
    if ((op.faults & fault) != 0) {
      CHECK(t.failures > 0);
    } else {
      CHECK(t.failures == 0);
    }
  }
  return t;
}

Tally& operator+=(Tally& a, const Tally& b) {
  a.operations += b.operations;
  a.injection_points += b.injection_points;
  a.failures += b.failures;
  return a;
}

Tally RunDbOps(Fault fault) {
  Tally total;
  for (const DbOp& op : DbOps()) {
    total += RunWithFaults(
        op, fault, [](const DbOp& o) { return MakeWorld(o.options); },
        [](DbWorld& w) {
          std::string e = CheckWorld(w);
          if (e.empty()) e = CheckUsable(w);
          return e;
        });
  }
  return total;
}

Tally RunPvecOps(Fault fault) {
  Tally total;
  for (const PvecOp& op : PvecOps()) {
    total += RunWithFaults(
        op, fault, [](const PvecOp&) { return MakePvecWorld(); }, CheckPvecWorld);
  }
  return total;
}

void Report(const char* what, Fault fault, const Tally& t) {
  WARN(fmt::format("{} faults on {}: {} operations, {} injection points, {} injected failures",
                   FaultName(fault), what, t.operations, t.injection_points, t.failures));
}

}  // namespace

#ifndef COWDB_TEST_OPERATOR_NEW_FAULTS

TEST_CASE("database operations: a failed node allocation changes nothing and leaks nothing",
          "[database][exception]") {
  const NodeHookGuard hook;
  const Tally db = RunDbOps(kNodeAlloc);
  const Tally pv = RunPvecOps(kNodeAlloc);
  CHECK(db.failures > 0);
  CHECK(pv.failures > 0);
  Report("database operations", kNodeAlloc, db);
  Report("pvec diff/merge", kNodeAlloc, pv);
}

TEST_CASE("database operations: a throwing element copy changes nothing and leaks nothing",
          "[database][exception]") {
  const Tally db = RunDbOps(kCopy);
  const Tally pv = RunPvecOps(kCopy);
  CHECK(db.failures > 0);
  CHECK(pv.failures > 0);
  Report("database operations", kCopy, db);
  Report("pvec diff/merge", kCopy, pv);
}

TEST_CASE("database operations: a throwing user functor changes nothing and leaks nothing",
          "[database][exception]") {
  const Tally db = RunDbOps(kFunctor);
  const Tally pv = RunPvecOps(kFunctor);
  CHECK(db.failures > 0);
  CHECK(pv.failures > 0);
  Report("database operations", kFunctor, db);
  Report("pvec diff/merge", kFunctor, pv);
}

#else  // COWDB_TEST_OPERATOR_NEW_FAULTS: the cowdb_oom_tests binary

TEST_CASE("database operations: any failed allocation changes nothing and leaks nothing",
          "[database][exception][oom]") {
  cowdb::testing::g_before_operator_new = [] {
    if (g_inj.Fire(kAnyAlloc)) throw std::bad_alloc();
  };
  struct Unhook {
    ~Unhook() { cowdb::testing::g_before_operator_new = nullptr; }
  } unhook;
  const Tally db = RunDbOps(kAnyAlloc);
  const Tally pv = RunPvecOps(kAnyAlloc);
  CHECK(db.failures > 0);
  CHECK(pv.failures > 0);
  Report("database operations", kAnyAlloc, db);
  Report("pvec diff/merge", kAnyAlloc, pv);
}

#endif  // COWDB_TEST_OPERATOR_NEW_FAULTS

#include "data/pickle.h"

#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

namespace tessera::data {

using Kind = PyObj::Kind;

PyRef PyObj::get(const std::string& key) const {
  for (const auto& [k, v] : dict)
    if ((k->kind == Kind::Bytes || k->kind == Kind::Str) && k->s == key) return v;
  return nullptr;
}

const char* PyObj::kind_name() const {
  switch (kind) {
    case Kind::None: return "None";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Bytes: return "bytes";
    case Kind::Str: return "str";
    case Kind::List: return "list";
    case Kind::Tuple: return "tuple";
    case Kind::Dict: return "dict";
    case Kind::Global: return "global";
    case Kind::NDArray: return "ndarray";
    case Kind::DType: return "dtype";
    case Kind::Mark: return "mark";
  }
  return "?";
}

namespace {

PyRef make(Kind k) {
  auto p = std::make_shared<PyObj>();
  p->kind = k;
  return p;
}
PyRef make_int(int64_t v) {
  auto p = make(Kind::Int);
  p->i = v;
  return p;
}
PyRef make_str(Kind k, std::string s) {
  auto p = make(k);
  p->s = std::move(s);
  return p;
}

// UTF-8 string whose code points are all < 256 -> those bytes (what _codecs.encode(s, "latin1") does).
bool utf8_to_latin1(const std::string& in, std::string& out) {
  out.clear();
  for (size_t i = 0; i < in.size();) {
    const uint8_t c = uint8_t(in[i]);
    if (c < 0x80) {
      out.push_back(char(c));
      i += 1;
    } else if ((c & 0xE0) == 0xC0 && i + 1 < in.size()) {
      const uint32_t cp = (uint32_t(c & 0x1F) << 6) | (uint8_t(in[i + 1]) & 0x3F);
      if (cp > 0xFF) return false;
      out.push_back(char(cp));
      i += 2;
    } else {
      return false;
    }
  }
  return true;
}

class Unpickler {
 public:
  Unpickler(const std::vector<uint8_t>& b, const std::string& name) : b_(b), name_(name) {}

  PyRef run() {
    for (;;) {
      const size_t at = pos_;
      const uint8_t op = byte();
      switch (op) {
        case 0x80: byte(); break;                   // PROTO
        case 0x95: bytes(8); break;                 // FRAME (length ignored: we read the whole buffer)
        case '}': push(make(Kind::Dict)); break;    // EMPTY_DICT
        case ']': push(make(Kind::List)); break;    // EMPTY_LIST
        case ')': push(make(Kind::Tuple)); break;   // EMPTY_TUPLE
        case '(': push(make(Kind::Mark)); break;    // MARK
        case 'q': memo(byte()); break;              // BINPUT
        case 'r': memo(u32()); break;               // LONG_BINPUT
        case 0x94: memo(memo_.size()); break;       // MEMOIZE
        case 'h': push(memo_get(byte(), at)); break;  // BINGET
        case 'j': push(memo_get(u32(), at)); break;   // LONG_BINGET
        case 'U': push(make_str(Kind::Bytes, bytes(byte()))); break;   // SHORT_BINSTRING (py2 str -> bytes)
        case 'T': push(make_str(Kind::Bytes, bytes(u32()))); break;    // BINSTRING
        case 'C': push(make_str(Kind::Bytes, bytes(byte()))); break;   // SHORT_BINBYTES
        case 'B': push(make_str(Kind::Bytes, bytes(u32()))); break;    // BINBYTES
        case 0x8e: push(make_str(Kind::Bytes, bytes(u64(at)))); break; // BINBYTES8
        case 0x8c: push(make_str(Kind::Str, bytes(byte()))); break;    // SHORT_BINUNICODE
        case 'X': push(make_str(Kind::Str, bytes(u32()))); break;      // BINUNICODE
        case 0x8d: push(make_str(Kind::Str, bytes(u64(at)))); break;   // BINUNICODE8
        case 'K': push(make_int(byte())); break;                       // BININT1
        case 'M': {                                                     // BININT2
          uint32_t lo = byte(), hi = byte();
          push(make_int(int64_t(lo | (hi << 8))));
          break;
        }
        case 'J': push(make_int(int32_t(u32()))); break;               // BININT
        case 0x8a: {                                                    // LONG1
          const size_t n = byte();
          if (n > 8) fail(at, "LONG1 integer wider than 64 bits");
          std::string v = bytes(n);
          uint64_t x = 0;
          for (size_t k = 0; k < n; ++k) x |= uint64_t(uint8_t(v[k])) << (8 * k);
          if (n > 0 && n < 8 && (uint8_t(v[n - 1]) & 0x80)) x |= ~uint64_t(0) << (8 * n);  // sign extend
          push(make_int(int64_t(x)));
          break;
        }
        case 'N': push(make(Kind::None)); break;
        case 0x88:
        case 0x89: {
          auto p = make(Kind::Bool);
          p->i = op == 0x88;
          push(p);
          break;
        }
        case 't': {  // TUPLE
          auto t = make(Kind::Tuple);
          t->items = pop_to_mark(at);
          push(t);
          break;
        }
        case 0x85:
        case 0x86:
        case 0x87: {  // TUPLE1..3
          const size_t n = size_t(op - 0x84);
          auto t = make(Kind::Tuple);
          t->items.resize(n);
          for (size_t k = n; k-- > 0;) t->items[k] = pop(at);
          push(t);
          break;
        }
        case 'c': {  // GLOBAL
          std::string mod = line(at), nm = line(at);
          push(make_str(Kind::Global, mod + "." + nm));
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          PyRef nm = pop(at), mod = pop(at);
          if (nm->kind != Kind::Str || mod->kind != Kind::Str) fail(at, "STACK_GLOBAL needs two str");
          push(make_str(Kind::Global, mod->s + "." + nm->s));
          break;
        }
        case 'R': {  // REDUCE
          PyRef args = pop(at), fn = pop(at);
          push(reduce(fn, args, at));
          break;
        }
        case 'b': {  // BUILD
          PyRef state = pop(at);
          build(top(at), state, at);
          break;
        }
        case 'a': {  // APPEND
          PyRef v = pop(at);
          PyRef l = list_of(top(at), at);
          check_acyclic(l, v, at);
          l->items.push_back(v);
          break;
        }
        case 'e': {  // APPENDS
          auto vs = pop_to_mark(at);
          PyRef l = list_of(top(at), at);
          for (const auto& v : vs) check_acyclic(l, v, at);
          l->items.insert(l->items.end(), vs.begin(), vs.end());
          break;
        }
        case 's': {  // SETITEM
          PyRef v = pop(at), k = pop(at);
          PyRef d = dict_of(top(at), at);
          check_acyclic(d, k, at);
          check_acyclic(d, v, at);
          d->dict.emplace_back(k, v);
          break;
        }
        case 'u': {  // SETITEMS
          auto kv = pop_to_mark(at);
          if (kv.size() % 2) fail(at, "SETITEMS with an odd number of items");
          PyRef d = dict_of(top(at), at);
          for (const auto& x : kv) check_acyclic(d, x, at);
          for (size_t k = 0; k < kv.size(); k += 2) d->dict.emplace_back(kv[k], kv[k + 1]);
          break;
        }
        case '.': {  // STOP
          PyRef r = pop(at);
          return r;
        }
        default: {
          char buf[96];
          std::snprintf(buf, sizeof buf, "unsupported pickle opcode 0x%02X ('%c')", op, (op >= 32 && op < 127) ? op : '?');
          fail(at, std::string(buf) + "; only the subset used by CIFAR python batches is supported");
        }
      }
    }
  }

 private:
  [[noreturn]] void fail(size_t at, const std::string& what) const {
    throw std::runtime_error(name_ + ": " + what + " at byte offset " + std::to_string(at));
  }
  uint8_t byte() {
    if (pos_ >= b_.size()) fail(pos_, "truncated pickle (no STOP opcode)");
    return b_[pos_++];
  }
  std::string bytes(size_t n) {
    if (n > b_.size() - pos_)
      fail(pos_, "truncated pickle: a " + std::to_string(n) + "-byte string runs past the end of the file");
    std::string s(reinterpret_cast<const char*>(b_.data() + pos_), n);
    pos_ += n;
    return s;
  }
  uint32_t u32() {
    std::string s = bytes(4);
    uint32_t v;
    std::memcpy(&v, s.data(), 4);  // little-endian host (x86-64, aarch64)
    return v;
  }
  size_t u64(size_t at) {
    std::string s = bytes(8);
    uint64_t v;
    std::memcpy(&v, s.data(), 8);
    if (v > b_.size()) fail(at, "length field larger than the file");
    return size_t(v);
  }
  std::string line(size_t at) {
    size_t e = pos_;
    while (e < b_.size() && b_[e] != '\n') ++e;
    if (e >= b_.size()) fail(at, "truncated GLOBAL");
    std::string s(reinterpret_cast<const char*>(b_.data() + pos_), e - pos_);
    pos_ = e + 1;
    return s;
  }
  void push(PyRef p) { stack_.push_back(std::move(p)); }
  PyRef pop(size_t at) {
    if (stack_.empty() || stack_.back()->kind == Kind::Mark) fail(at, "pickle stack underflow");
    PyRef p = stack_.back();
    stack_.pop_back();
    return p;
  }
  PyRef top(size_t at) {
    if (stack_.empty()) fail(at, "pickle stack underflow");
    return stack_.back();
  }
  std::vector<PyRef> pop_to_mark(size_t at) {
    size_t m = stack_.size();
    while (m > 0 && stack_[m - 1]->kind != Kind::Mark) --m;
    if (m == 0) fail(at, "no MARK on the pickle stack");
    std::vector<PyRef> out(stack_.begin() + long(m), stack_.end());
    stack_.resize(m - 1);
    return out;
  }
  void memo(size_t k) {
    if (stack_.empty()) fail(pos_, "memo store on an empty stack");
    memo_[k] = stack_.back();
  }
  PyRef memo_get(size_t k, size_t at) {
    auto it = memo_.find(k);
    if (it == memo_.end()) fail(at, "memo key " + std::to_string(k) + " not defined");
    return it->second;
  }
  PyRef list_of(PyRef p, size_t at) {
    if (p->kind != Kind::List) fail(at, std::string("APPEND to a ") + p->kind_name() + ", expected a list");
    return p;
  }
  // A container must not end up inside itself: objects hold each other by shared_ptr, so a cycle
  // (made through the memo, e.g. a list appended to itself) would never be freed (found by
  // fuzz/cifar_pickle.cpp). Python allows cycles; CIFAR batches have none. The search is bounded in
  // total by the file's size, so a crafted graph cannot make it quadratic.
  void check_acyclic(const PyRef& container, const PyRef& v, size_t at) {
    std::vector<const PyObj*> todo{v.get()};
    std::unordered_set<const PyObj*> seen;
    while (!todo.empty()) {
      const PyObj* p = todo.back();
      todo.pop_back();
      if (p == container.get()) fail(at, "reference cycle (a container inside itself), which this reader does not support");
      if (!seen.insert(p).second) continue;
      if (++cycle_visits_ > 16 * b_.size() + (size_t(1) << 20)) fail(at, "object graph too large to check for cycles");
      for (const auto& c : p->items) todo.push_back(c.get());
      for (const auto& [k, x] : p->dict) todo.push_back(k.get()), todo.push_back(x.get());
    }
  }
  PyRef dict_of(PyRef p, size_t at) {
    if (p->kind != Kind::Dict) fail(at, std::string("SETITEM on a ") + p->kind_name() + ", expected a dict");
    return p;
  }

  PyRef reduce(const PyRef& fn, const PyRef& args, size_t at) {
    if (fn->kind != Kind::Global) fail(at, std::string("REDUCE of a ") + fn->kind_name());
    if (args->kind != Kind::Tuple) fail(at, "REDUCE arguments are not a tuple");
    const auto& a = args->items;
    if (fn->s == "numpy.core.multiarray._reconstruct" || fn->s == "numpy._core.multiarray._reconstruct") {
      if (a.empty() || a[0]->kind != Kind::Global || a[0]->s != "numpy.ndarray")
        fail(at, "_reconstruct of something other than numpy.ndarray");
      return make(Kind::NDArray);
    }
    if (fn->s == "numpy.dtype") {
      if (a.empty() || (a[0]->kind != Kind::Str && a[0]->kind != Kind::Bytes)) fail(at, "numpy.dtype without a type string");
      return make_str(Kind::DType, a[0]->s);
    }
    if (fn->s == "_codecs.encode") {
      if (a.size() != 2 || a[0]->kind != Kind::Str || a[1]->kind != Kind::Str || a[1]->s != "latin1")
        fail(at, "_codecs.encode other than (str, 'latin1')");
      std::string out;
      if (!utf8_to_latin1(a[0]->s, out)) fail(at, "_codecs.encode: string has code points above 255");
      return make_str(Kind::Bytes, out);
    }
    fail(at, "REDUCE of unsupported callable " + fn->s);
  }

  void build(const PyRef& obj, const PyRef& state, size_t at) {
    if (obj->kind == Kind::DType) return;  // byte-order/flags state of a one-byte dtype: nothing to keep
    if (obj->kind != Kind::NDArray) fail(at, std::string("BUILD on a ") + obj->kind_name());
    // ndarray.__setstate__((version, shape, dtype, is_fortran, rawdata))
    if (state->kind != Kind::Tuple || state->items.size() != 5) fail(at, "ndarray state is not a 5-tuple");
    const auto& s = state->items;
    if (s[1]->kind != Kind::Tuple) fail(at, "ndarray shape is not a tuple");
    int64_t count = 1;
    for (const auto& d : s[1]->items) {
      if (d->kind != Kind::Int || d->i < 0) fail(at, "ndarray shape entry is not a non-negative int");
      obj->shape.push_back(d->i);
      count *= d->i;
    }
    if (s[2]->kind != Kind::DType) fail(at, "ndarray dtype is not a numpy.dtype");
    if (s[2]->s != "u1") fail(at, "ndarray dtype '" + s[2]->s + "' not supported (only uint8 'u1')");
    obj->dtype = s[2]->s;
    if (s[3]->kind == Kind::Bool && s[3]->i) fail(at, "Fortran-ordered ndarray not supported");
    if (s[4]->kind != Kind::Bytes) fail(at, std::string("ndarray data is a ") + s[4]->kind_name() + ", expected bytes");
    if (int64_t(s[4]->s.size()) != count)
      fail(at, "ndarray data has " + std::to_string(s[4]->s.size()) + " bytes for " + std::to_string(count) + " elements");
    obj->data = s[4]->s;
  }

  const std::vector<uint8_t>& b_;
  std::string name_;
  size_t pos_ = 0;
  std::vector<PyRef> stack_;
  // Keyed like Python's dict memo: a LONG_BINPUT key is any 32-bit number (sizing a vector by it
  // let a 10-byte pickle allocate 64 GB), and MEMOIZE stores under the number of entries.
  std::unordered_map<size_t, PyRef> memo_;
  size_t cycle_visits_ = 0;
};

}  // namespace

PyRef load_pickle(const std::vector<uint8_t>& bytes, const std::string& name) { return Unpickler(bytes, name).run(); }

}  // namespace tessera::data

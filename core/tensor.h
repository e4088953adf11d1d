#pragma once
// Tensor: a reference-counted handle to an N-d strided view of a Storage (row-major, PyTorch
// dimension order). Copying a Tensor shares the data, like torch.Tensor in Python.
//
// Layering: core/ knows nothing about differentiation. It only reserves the per-tensor slots
// (AutogradMeta) that autograd/ fills in and interprets, so that one Tensor type serves both.
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/dtype.h"

namespace tessera {

namespace autograd {
struct Node;
}

using Shape = std::vector<int64_t>;

std::string shape_str(const Shape& s);  // "[2, 3]"
int64_t shape_numel(const Shape& s);
Shape contiguous_strides(const Shape& s);
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);  // negative dims count from the end

// Refcounted memory block. `version` is shared by every view of the block: in-place writes bump
// it so autograd can detect that a tensor saved for backward was modified.
struct Storage {
  void* data = nullptr;
  size_t nbytes = 0;
  std::function<void(void*)> deleter;  // empty: memory came from the caching allocator
  uint64_t version = 0;
  Device device;                       // where `data` lives (CPU only for now)
  Storage(size_t nbytes);                                          // allocates
  Storage(void* data, size_t nbytes, std::function<void(void*)> deleter);  // wraps memory
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

class Tensor;
struct TensorImpl;

// Autograd slots, interpreted only by autograd/.
struct AutogradMeta {
  bool requires_grad = false;
  bool retains_grad = false;
  std::shared_ptr<TensorImpl> grad;               // .grad of a leaf (or a retained non-leaf)
  std::shared_ptr<autograd::Node> grad_fn;        // null for leaves
  uint32_t output_nr = 0;                         // which output of grad_fn this tensor is
  std::weak_ptr<autograd::Node> grad_accumulator; // leaves: the node that accumulates into .grad
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;  // in elements
  int64_t offset = 0;  // in elements
  DType dtype = DType::Float32;
  std::unique_ptr<AutogradMeta> autograd;  // null until the tensor takes part in autograd
};

struct TensorOptions {
  DType dtype = DType::Float32;
  bool requires_grad = false;
  Device device = kCPU;
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  int64_t dim() const { return int64_t(impl().shape.size()); }
  const Shape& shape() const { return impl().shape; }
  const Shape& sizes() const { return impl().shape; }
  int64_t size(int64_t d) const;
  const Shape& strides() const { return impl().strides; }
  int64_t stride(int64_t d) const;
  int64_t numel() const { return shape_numel(impl().shape); }
  DType dtype() const { return impl().dtype; }
  const Device& device() const { return impl().storage->device; }
  size_t element_size() const { return dtype_size(impl().dtype); }
  int64_t storage_offset() const { return impl().offset; }
  bool is_contiguous() const;
  bool is_floating_point() const { return is_floating(dtype()); }

  // Pointer to the first element (offset applied). data_ptr<T> checks T against the dtype.
  void* raw_data() const;
  template <typename T> T* data_ptr() const {
    check_dtype(dtype_v<T>, "data_ptr");
    return static_cast<T*>(raw_data());
  }
  // Value of a one-element tensor converted to T.
  template <typename T> T item() const;
  double item_double() const;

  // A view sharing storage with new geometry (no autograd recording; autograd/ wraps this).
  Tensor as_strided(const Shape& shape, const Shape& strides, int64_t offset) const;
  // A tensor sharing storage and geometry but not autograd state.
  Tensor detach() const;

  const std::shared_ptr<Storage>& storage() const { return impl().storage; }
  uint64_t version() const { return impl().storage->version; }
  void bump_version() const { ++impl().storage->version; }
  bool is_same(const Tensor& o) const { return impl_ == o.impl_; }
  bool shares_storage(const Tensor& o) const { return storage() == o.storage(); }

  // Autograd state (meaning defined in autograd/).
  bool requires_grad() const { return impl().autograd && impl().autograd->requires_grad; }
  Tensor& set_requires_grad(bool r = true);  // leaves only; floating dtypes only
  Tensor& requires_grad_(bool r = true) { return set_requires_grad(r); }
  Tensor grad() const;
  void set_grad(const Tensor& g) const;
  const std::shared_ptr<autograd::Node>& grad_fn() const;
  bool is_leaf() const { return !impl().autograd || !impl().autograd->grad_fn; }
  uint32_t output_nr() const { return impl().autograd ? impl().autograd->output_nr : 0; }
  AutogradMeta& autograd_meta() const;  // creates the slots on first use

  TensorImpl& impl() const;
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  std::string to_string() const;  // values and metadata, torch-style

 private:
  void check_dtype(DType t, const char* what) const;
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);
using TensorList = std::vector<Tensor>;

// Result of max/min over a dim, sort and topk: values (differentiable) and int64 indices.
struct ValuesIndices {
  Tensor values;
  Tensor indices;
};

// Read/write one element by multi-index (slow; for tests and printing).
double get_value(const Tensor& t, int64_t flat_index);  // flat index in logical row-major order
void set_value(const Tensor& t, int64_t flat_index, double v);

}  // namespace tessera

#pragma once
// Differentiable arithmetic with broadcasting: add, sub, mul, div, neg, and the operators.
// A double argument behaves like a Python scalar in PyTorch (does not promote float tensors).
#include "core/tensor.h"

namespace tessera {

Tensor add(const Tensor& a, const Tensor& b, double alpha = 1.0);  // a + alpha * b
Tensor sub(const Tensor& a, const Tensor& b, double alpha = 1.0);  // a - alpha * b
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor add(const Tensor& a, double b);
Tensor sub(const Tensor& a, double b);
Tensor rsub(const Tensor& a, double b);  // b - a
Tensor mul(const Tensor& a, double b);
Tensor div(const Tensor& a, double b);
Tensor rdiv(const Tensor& a, double b);  // b / a
Tensor neg(const Tensor& a);

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);

// In-place (t op= other). Not recorded: allowed on tensors that do not require grad, or under
// no_grad (optimizer updates); otherwise an error, since history would be lost.
Tensor& add_(Tensor& t, const Tensor& other, double alpha = 1.0);
Tensor& sub_(Tensor& t, const Tensor& other, double alpha = 1.0);
Tensor& mul_(Tensor& t, const Tensor& other);
Tensor& div_(Tensor& t, const Tensor& other);
Tensor& add_(Tensor& t, double v);
Tensor& mul_(Tensor& t, double v);
Tensor& zero_(Tensor& t);
Tensor& fill_(Tensor& t, double v);
Tensor& copy_(Tensor& t, const Tensor& src);
void check_inplace(const Tensor& t, const char* op);

// Gradient g of a broadcast op, reduced back to an input's shape and dtype.
Tensor reduce_grad(const Tensor& g, const Shape& shape, DType dtype);

}  // namespace tessera

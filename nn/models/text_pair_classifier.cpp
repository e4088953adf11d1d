#include "nn/models/text_pair_classifier.h"
#include "nn/registry.h"

#include <stdexcept>
#include <vector>

#include "autograd/ops/eltwise.h"
#include "autograd/ops/reduce.h"
#include "autograd/ops/shape.h"
#include "autograd/ops/view.h"
#include "core/factory.h"
#include "nn/attention.h"
#include "nn/container.h"
#include "nn/dropout.h"
#include "nn/embedding.h"
#include "nn/grassmann.h"
#include "nn/init.h"
#include "nn/linear.h"
#include "nn/mlp.h"
#include "nn/normalization.h"

namespace tessera::nn {

void visit_options(TextPairClassifierOptions& o, OptionVisitor& v) {
  v.require("vocab_size");
  v("vocab_size", o.vocab_size, "the tokenizer's vocabulary size");
  v("num_classes", o.num_classes, "outputs (1 for regression, e.g. STS-B)");
  v("d_model", o.d_model, "embedding and block width");
  v("n_layers", o.n_layers, "encoder blocks (transformer) or Grassmann mixing blocks");
  v("d_ff", o.d_ff, "FFN hidden width");
  v("max_len", o.max_len, "longest input (learned positions)");
  v("dropout", o.dropout, "dropout on embeddings and inside the blocks");
  if (!o.grassmann) {
    v("n_heads", o.n_heads, "attention heads");
    return;
  }
  v("d_proj", o.d_proj, "Pluecker reduction width over all mixing heads");
  v("heads", o.heads, "mixing heads (d_proj / heads dims each)");
  v("window", o.window, "tokens pooled into one window vector");
  v("stride", o.stride, "tokens between window starts");
  v("offsets", o.offsets, "window t is paired with window t - D for each D");
}

void validate_options(const TextPairClassifierOptions& o) {
  if (o.vocab_size < 1) throw OptionError("vocab_size", "an integer >= 1 (the tokenizer's vocabulary size)");
  if (o.num_classes < 1) throw OptionError("num_classes", "an integer >= 1");
  if (o.d_model < 1) throw OptionError("d_model", "an integer >= 1");
  if (o.max_len < 1) throw OptionError("max_len", "an integer >= 1");
  if (!(o.dropout >= 0 && o.dropout < 1)) throw OptionError("dropout", "a probability in [0, 1)");
  if (!o.grassmann) {
    if (o.n_heads < 1 || o.d_model % o.n_heads != 0) throw OptionError("n_heads", "a divisor of d_model");
    return;
  }
  if (o.heads < 1 || o.d_proj % o.heads != 0 || o.d_proj / o.heads < 2)
    throw OptionError("heads", "a divisor of d_proj leaving >= 2 dims per head");
  if (o.window < 1) throw OptionError("window", "an integer >= 1");
  if (o.stride < 1) throw OptionError("stride", "an integer >= 1");
  if (o.offsets.empty()) throw OptionError("offsets", "a non-empty list of offsets >= 1");
  for (int64_t D : o.offsets)
    if (D < 1) throw OptionError("offsets", "offsets >= 1 (got " + std::to_string(D) + ")");
}

namespace {
// Pre-LN bidirectional encoder block: x + Attn(LN(x), padding mask), x + Mlp(LN(x)). Keys as timm's.
class EncoderBlock : public Module {
 public:
  EncoderBlock(int64_t d, int64_t heads, int64_t d_ff, double p) {
    norm1 = register_module("norm1", std::make_shared<LayerNorm>(d));
    attn = register_module("attn", std::make_shared<Attention>(d, AttentionOptions{.num_heads = heads, .qkv_bias = true,
                                                                                   .attn_drop = p, .proj_drop = p}));
    norm2 = register_module("norm2", std::make_shared<LayerNorm>(d));
    mlp = register_module("mlp", std::make_shared<Mlp>(d, MlpOptions{.hidden_features = d_ff, .drop = p}));
  }
  std::string type_name() const override { return "EncoderBlock"; }
  Tensor forward(const Tensor& x) override { return forward(x, Tensor()); }
  Tensor forward(const Tensor& x, const Tensor& key_padding) {
    Tensor h = add(x, attn->forward(norm1->forward(x), AttentionMask{.key_padding_mask = key_padding}));
    return add(h, mlp->forward(norm2->forward(h)));
  }
  std::shared_ptr<LayerNorm> norm1, norm2;
  std::shared_ptr<Attention> attn;
  std::shared_ptr<Mlp> mlp;
};

// Mean of x [B, T, d] over the positions where mask [B, T] (float, 1 = real) is set -> [B, d]; 0 where none is.
Tensor masked_mean(const Tensor& x, const Tensor& mask) {
  Tensor m = unsqueeze(mask, -1);
  return div(sum(mul(x, m), {1}), clamp_min(sum(m, {1}), 1.0));
}
}  // namespace

TextPairClassifier::TextPairClassifier(TextPairClassifierOptions o) : o_(std::move(o)) {
  try {
    validate_options(o_);
  } catch (const OptionError& e) {
    throw std::invalid_argument(std::string(type_name()) + ": " + e.what());
  }
  const int64_t d = o_.d_model;
  auto emb = register_module("emb", std::make_shared<Embedding>(o_.vocab_size, d));
  normal_(emb->weight, 0.0, 0.02);
  emb_ = emb;
  auto types = register_module("type_emb", std::make_shared<Embedding>(2, d));
  normal_(types->weight, 0.0, 0.02);
  type_emb_ = types;
  pos_ = register_parameter("pos", zeros({1, o_.max_len, d}));
  normal_(pos_, 0.0, 0.02);
  drop_ = register_module("drop", std::make_shared<Dropout>(o_.dropout));
  auto blocks = std::make_shared<ModuleList>();
  for (int64_t i = 0; i < o_.n_layers; ++i) {
    if (o_.grassmann)
      blocks->push_back(std::make_shared<GrassmannBlock>(
          GrassmannMixingOptions{.d_model = d, .rank = o_.d_proj / o_.heads, .heads = o_.heads, .windows = o_.offsets,
                                 .dropout = o_.dropout},
          o_.d_ff));
    else
      blocks->push_back(std::make_shared<EncoderBlock>(d, o_.n_heads, o_.d_ff, o_.dropout));
  }
  blocks_ = register_module("blocks", blocks);
  norm_ = register_module("norm", std::make_shared<LayerNorm>(d));
  head_ = register_module("head", std::make_shared<Linear>(d, o_.num_classes));
}

Tensor TextPairClassifier::classify(const Tensor& ids, const Tensor& mask_in, const Tensor& types) {
  if (ids.dim() != 2 || ids.shape()[1] > o_.max_len)
    throw std::invalid_argument(std::string(type_name()) + ": expected input_ids [B, T] with T <= " +
                                std::to_string(o_.max_len) + ", got " + shape_str(ids.shape()));
  const int64_t B = ids.shape()[0], T = ids.shape()[1];
  Tensor h = add(emb_->forward(ids), narrow(pos_, 1, 0, T));
  if (types.defined()) h = add(h, type_emb_->forward(types));
  h = drop_->forward(h);
  Tensor mask = tessera::to(mask_in, h.dtype());  // [B, T], 1 = real token
  auto& blocks = static_cast<ModuleList&>(*blocks_);
  if (!o_.grassmann) {
    Tensor pad_mask = eq(mask_in, 0.0);  // true = padding key
    for (size_t i = 0; i < blocks.size(); ++i) h = static_cast<EncoderBlock&>(*blocks[i]).forward(h, pad_mask);
    return head_->forward(masked_mean(norm_->forward(h), mask));
  }
  // Windows of `window` tokens every `stride`: pad T so the last window is whole, then unfold.
  const int64_t W = o_.window, S = o_.stride;
  const int64_t n = T <= W ? 1 : (T - W + S - 1) / S + 1, Tp = (n - 1) * S + W;
  Tensor hp = pad(mul(h, unsqueeze(mask, -1)), {0, 0, 0, Tp - T});  // padding tokens contribute 0
  Tensor mp = pad(mask, {0, Tp - T});
  Tensor tok_sum = sum(unfold(hp, 1, W, S), {-1});    // [B, n, d]
  Tensor tok_cnt = sum(unfold(mp, 1, W, S), {-1});    // [B, n]
  Tensor win = div(tok_sum, unsqueeze(clamp_min(tok_cnt, 1.0), -1));
  // Window k counts when it starts on a real token and the window before it did not already reach the
  // last one (len = real tokens; padding is on the right): the same windows whatever the padded length.
  std::vector<double> starts(static_cast<size_t>(n)), prev_ends(static_cast<size_t>(n));
  for (int64_t k = 0; k < n; ++k) {
    starts[size_t(k)] = double(k * S);
    prev_ends[size_t(k)] = k == 0 ? -1.0 : double((k - 1) * S + W);
  }
  Tensor len = sum(mask, {1}, true);  // [B, 1]
  Tensor win_mask = mul(tessera::to(lt(from_vector<double>(starts, {1, n}), len), h.dtype()),
                        tessera::to(lt(from_vector<double>(prev_ends, {1, n}), len), h.dtype()));  // [B, n]
  (void)B;
  for (size_t i = 0; i < blocks.size(); ++i) win = blocks[i]->forward(win);
  return head_->forward(masked_mean(norm_->forward(win), win_mask));
}

ModelOutput TextPairClassifier::forward_named(const ModelInput& in) {
  const Tensor& ids = in.at("input_ids");
  Tensor mask = in.has("attention_mask") ? in.at("attention_mask") : ones(ids.shape(), {.dtype = DType::Int64});
  Tensor types = in.has("token_type_ids") ? in.at("token_type_ids") : Tensor();
  ModelOutput out;
  out.tensors["logits"] = classify(ids, mask, types);
  return out;
}

Tensor TextPairClassifier::forward(const Tensor& ids) {
  return classify(ids, ones(ids.shape(), {.dtype = DType::Int64}), Tensor());
}

namespace {
const bool registered = [] {
  models().add("transformer_classifier", TextPairClassifierOptions{},
               [](const TextPairClassifierOptions& o) -> ModulePtr { return std::make_shared<TextPairClassifier>(o); },
               "bidirectional pre-LN Transformer encoder over token ids, mean-pooled (GLUE / SNLI from scratch)");
  models().add("grassmann_classifier", TextPairClassifierOptions{.grassmann = true},
               [](const TextPairClassifierOptions& o) -> ModulePtr {
                 auto c = o;
                 c.grassmann = true;
                 return std::make_shared<TextPairClassifier>(c);
               },
               "Grassmann-Pluecker head over windows of token ids (arXiv 2512.19428's SNLI head, from scratch)");
  return true;
}();
}  // namespace

}  // namespace tessera::nn

// Skip-gram with negative sampling over node sequences (Mikolov et al., NIPS 2013, as word2vec.c
// trains it): for every position a window shrunk by a random b, every context node predicts the
// centre node against `negative` nodes drawn from the unigram^0.75 distribution; frequent nodes
// are subsampled; the learning rate decays linearly. Threads update the shared vectors without
// locks (Hogwild, Recht et al. 2011), each over its own share of the walks, as word2vec.c does;
// with one thread the result is a function of the seed.
#include <torch/library.h>

#include <cmath>
#include <vector>

#include "../index_check.h"
#include "common.h"

namespace graphkit {
namespace {

at::Tensor sgns_train_cpu(const at::Tensor& walks_in, int64_t num_nodes, int64_t dim, int64_t window,
                          int64_t negative, int64_t epochs, double alpha, double min_alpha, double sample,
                          int64_t seed) {
  TORCH_CHECK(walks_in.dim() == 2, "sgns_train: walks must be [W, L]");
  TORCH_CHECK(num_nodes > 0 && dim > 0 && window > 0 && negative >= 0 && epochs > 0,
              "sgns_train: num_nodes, dim, window and epochs must be positive, negative >= 0");
  const at::Tensor walks = walks_in.to(at::kLong).contiguous();
  const int64_t W = walks.size(0), L = walks.size(1);
  const int64_t* wk = walks.data_ptr<int64_t>();
  // counts (which check the ids), the unigram^0.75 table and the subsampling keep probabilities
  std::vector<int64_t> count(num_nodes, 0);
  for (int64_t i = 0; i < W * L; ++i) {
    TORCH_CHECK_VALUE(!outside(wk[i], num_nodes), "sgns_train: walks[", i / L, ", ", i % L, "] = ", wk[i],
                      " is out of range (outside [0, ", num_nodes, "))");
    ++count[wk[i]];
  }
  const int64_t total = W * L;
  const int64_t table_size = std::max<int64_t>(1 << 20, std::min<int64_t>(int64_t(1) << 27, 16 * num_nodes));
  std::vector<int32_t> table(table_size);
  {
    double norm = 0;
    for (int64_t v = 0; v < num_nodes; ++v) norm += std::pow(static_cast<double>(count[v]), 0.75);
    int64_t v = 0;
    double cum = norm > 0 ? std::pow(static_cast<double>(count[0]), 0.75) / norm : 1.0;
    for (int64_t t = 0; t < table_size; ++t) {
      table[t] = static_cast<int32_t>(v);
      if (static_cast<double>(t + 1) / table_size > cum && v < num_nodes - 1) {
        ++v;
        cum += std::pow(static_cast<double>(count[v]), 0.75) / norm;
      }
    }
  }
  std::vector<float> keep(num_nodes, 1.0f);
  if (sample > 0) {
    const double threshold = sample * total;
    for (int64_t v = 0; v < num_nodes; ++v) {
      if (count[v] == 0) continue;
      const double f = static_cast<double>(count[v]);
      keep[v] = static_cast<float>(std::min(1.0, (std::sqrt(f / threshold) + 1) * threshold / f));
    }
  }
  at::Tensor syn0 = at::empty({num_nodes, dim}, at::kFloat);
  at::Tensor syn1 = at::zeros({num_nodes, dim}, at::kFloat);
  float* in = syn0.data_ptr<float>();
  float* out = syn1.data_ptr<float>();
  {
    Stream init{static_cast<uint64_t>(seed) * 0x2545F4914F6CDD1DULL + 7};
    for (int64_t i = 0; i < num_nodes * dim; ++i) in[i] = static_cast<float>((init.uniform() - 0.5) / dim);
  }
  const int64_t tasks = std::max<int64_t>(1, std::min<int64_t>(W, at::get_num_threads()));
  at::parallel_for(0, tasks, 1, [&](int64_t t0, int64_t t1) {
    std::vector<float> grad(dim);
    std::vector<int64_t> sentence(L);
    for (int64_t task = t0; task < t1; ++task) {
      Stream rng{static_cast<uint64_t>(seed) * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(task) * 0xD1B54A32D192ED03ULL + 1};
      const int64_t begin = W * task / tasks, end = W * (task + 1) / tasks, share = end - begin;
      for (int64_t item = 0; item < epochs * share; ++item) {  // this task's walks, epoch after epoch
        const double progress = static_cast<double>(item) / static_cast<double>(epochs * share);
        const float lr = static_cast<float>(std::max(min_alpha, alpha - (alpha - min_alpha) * progress));
        const int64_t* walk = wk + (begin + item % share) * L;
        int64_t len = 0;
        for (int64_t i = 0; i < L; ++i)
          if (keep[walk[i]] >= 1.0f || rng.uniform() < keep[walk[i]]) sentence[len++] = walk[i];
        for (int64_t i = 0; i < len; ++i) {
          const int64_t centre = sentence[i];
          const int64_t b = rng.below(window);
          const int64_t c0 = std::max<int64_t>(0, i - window + b), c1 = std::min<int64_t>(len - 1, i + window - b);
          for (int64_t c = c0; c <= c1; ++c) {
            if (c == i) continue;
            float* l1 = in + sentence[c] * dim;
            std::fill(grad.begin(), grad.end(), 0.0f);
            for (int64_t d = 0; d <= negative; ++d) {
              int64_t target;
              float label;
              if (d == 0) {
                target = centre;
                label = 1.0f;
              } else {
                target = table[rng.below(table_size)];
                if (target == centre) continue;
                label = 0.0f;
              }
              float* l2 = out + target * dim;
              float f = 0.0f;
#pragma omp simd reduction(+ : f)
              for (int64_t k = 0; k < dim; ++k) f += l1[k] * l2[k];
              float g;
              if (f > 6.0f) g = (label - 1.0f) * lr;
              else if (f < -6.0f) g = label * lr;
              else g = (label - 1.0f / (1.0f + std::exp(-f))) * lr;
              float* gr = grad.data();
#pragma omp simd
              for (int64_t k = 0; k < dim; ++k) {
                gr[k] += g * l2[k];
                l2[k] += g * l1[k];
              }
            }
            const float* gr = grad.data();
#pragma omp simd
            for (int64_t k = 0; k < dim; ++k) l1[k] += gr[k];
          }
        }
      }
    }
  });
  return syn0;
}

}  // namespace

TORCH_LIBRARY_IMPL(graphkit, CPU, m) { m.impl("sgns_train", &sgns_train_cpu); }

}  // namespace graphkit

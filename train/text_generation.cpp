#include "train/text_generation.h"

#include <chrono>
#include <filesystem>
#include <ostream>
#include <stdexcept>

#include "models/generation/search.h"
#include "models/llama/llama_loader.h"
#include "models/llama/llama_step_decoder.h"
#include "train/data/tokenizer.h"

namespace emrrg::train {
namespace {

namespace fs = std::filesystem;

std::unique_ptr<data::Tokenizer> open_tokenizer(const TextGenerationOptions& o) {
  if (!o.tokenizer_path.empty()) return data::load_tokenizer(o.tokenizer_path);
  if (!fs::is_directory(o.model_path)) return nullptr;
  // Llama folders ship SentencePiece's tokenizer.model, Qwen's a byte-level BPE tokenizer.json.
  for (const char* name : {"tokenizer.model", "tokenizer.json"}) {
    const fs::path in_folder = fs::path(o.model_path) / name;
    if (fs::exists(in_folder)) return data::load_tokenizer(in_folder.string());
  }
  return nullptr;
}

// The prompt and its continuation decoded so far, written out as they grow (decoding the whole
// sequence keeps SentencePiece's spaces right). A prefix of ids can decode to something the
// longer sequence does not start with (a piece that only makes sense with the next one); such
// text is held back until it is settled.
class TextStream {
 public:
  TextStream(const data::Tokenizer& tok, std::ostream& out, const std::vector<int64_t>& prompt) : tok_(tok), out_(out) {
    for (int64_t id : prompt) push(id);
  }
  void push(int64_t id) {
    ids_.push_back(static_cast<int>(id));
    const std::string text = tok_.decode(ids_);
    if (text.compare(0, written_, text_, 0, written_) == 0 && text.size() >= written_) {
      out_ << text.substr(written_) << std::flush;
      written_ = text.size();
    }
    text_ = text;
  }
  const std::string& text() const { return text_; }

 private:
  const data::Tokenizer& tok_;
  std::ostream& out_;
  std::vector<int> ids_;
  std::string text_;
  size_t written_ = 0;
};

}  // namespace

TextGenerationResult run_text_generation(const TextGenerationOptions& o, std::ostream& out, std::ostream& log) {
  using Clock = std::chrono::steady_clock;
  auto seconds_since = [](Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); };
  const auto t_load = Clock::now();
  auto model = models::load_llama(o.model_path);
  model->to(o.device);
  const auto& config = model->config();
  const auto tok = open_tokenizer(o);
  if (tok && tok->vocab_size() > config.vocab_size)
    throw std::runtime_error("tokenizer '" + o.tokenizer_path + "' has " + std::to_string(tok->vocab_size()) +
                             " tokens, the model " + std::to_string(config.vocab_size));
  if (!tok && !o.print_ids)
    throw std::runtime_error("'" + o.model_path + "': no tokenizer (give --tokenizer, or --print-ids)");

  TextGenerationResult r;
  if (o.prompt && o.prompt_ids) throw std::runtime_error("give a text prompt or prompt ids, not both");
  if (o.prompt_ids) {
    r.prompt_ids = *o.prompt_ids;
  } else if (o.prompt && !o.prompt->empty()) {
    if (!tok) throw std::runtime_error("a text prompt needs a tokenizer");
    for (int id : tok->encode(*o.prompt, config.bos_starts_prompts)) r.prompt_ids.push_back(id);
  }
  // An empty prompt starts from BOS, as llama2.c does.
  if (r.prompt_ids.empty() && config.bos_token_id >= 0) r.prompt_ids.push_back(config.bos_token_id);
  if (r.prompt_ids.empty()) throw std::runtime_error("empty prompt and the model has no BOS token");
  for (int64_t id : r.prompt_ids)
    if (id < 0 || id >= config.vocab_size)
      throw std::runtime_error("prompt id " + std::to_string(id) + " is outside the vocabulary [0, " +
                               std::to_string(config.vocab_size) + ")");
  log << "loaded " << o.model_path << " (" << model->num_parameters() << " parameters) in " << seconds_since(t_load)
      << " s\n";

  generation::GenerationConfig gc = o.generation;
  if (gc.eos_id < 0) gc.eos_id = config.eos_token_id;
  gc.validate();

  models::LlamaStepDecoder decoder(*model);
  const auto t_prefill = Clock::now();
  const std::vector<std::vector<int64_t>> prompts{r.prompt_ids};
  const Tensor prompt_logits = decoder.prefill(prompts);
  const double prefill_s = seconds_since(t_prefill);

  std::unique_ptr<TextStream> stream;
  if (tok && !o.print_ids) stream = std::make_unique<TextStream>(*tok, out, r.prompt_ids);
  const bool streams = gc.num_beams == 1;
  auto emit = [&](int64_t token) {
    if (stream) stream->push(token);
    else out << (r.new_ids.empty() ? "" : " ") << token << std::flush;
    r.new_ids.push_back(token);
  };
  const auto t_decode = Clock::now();
  const auto seqs = generation::generate(decoder, prompt_logits, prompts, gc,
                                         streams ? generation::TokenCallback([&](int64_t, int64_t t) { emit(t); })
                                                 : generation::TokenCallback());
  const double decode_s = seconds_since(t_decode);
  if (!streams)
    for (int64_t t : seqs[0].tokens) emit(t);
  out << "\n";
  if (stream) r.text = stream->text();
  r.tokens_per_second = decode_s > 0 ? static_cast<double>(r.new_ids.size()) / decode_s : 0.0;
  log << "prompt: " << r.prompt_ids.size() << " tokens in " << prefill_s << " s; generated " << r.new_ids.size()
      << " tokens in " << decode_s << " s (" << r.tokens_per_second << " tokens/s)\n";
  return r;
}

}  // namespace emrrg::train

// emrrg generate --model PATH [--tokenizer FILE] [--prompt TEXT | --prompt-ids "1 2 3"] ...
// PATH is a Hugging Face model folder (LlamaForCausalLM, Qwen2ForCausalLM) or a llama2.c .bin.
// Greedy (--temperature 0) and sampled text streams to stdout; timings and tokens/s to stderr.
// emrrg generate --config C --weights W IMAGE...: the report of one study (its views) by a trained
// EMRRG, with the config's [generate] settings.
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>

#include "train/cli/command_registry.h"
#include "train/cli/device_option.h"
#include "train/cli/profile_option.h"
#include "train/text_generation.h"
#include "train/train_run.h"

namespace {

std::vector<int64_t> parse_ids(const std::string& text) {
  std::istringstream in(text);
  std::vector<int64_t> ids;
  std::string word;
  while (in >> word) {
    size_t used = 0;
    int64_t id = -1;
    try {
      id = std::stoll(word, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != word.size()) throw std::runtime_error("--prompt-ids: '" + word + "' is not an integer");
    ids.push_back(id);
  }
  if (ids.empty()) throw std::runtime_error("--prompt-ids: no ids");
  return ids;
}

const bool registered = emrrg::cli::register_command(
    {"generate", "Continue a prompt with a Llama-family model, or write a study's report with EMRRG (--config)",
     [](CLI::App& app) -> std::function<int()> {
       auto o = std::make_shared<emrrg::train::TextGenerationOptions>();
       auto prompt = std::make_shared<std::string>();
       auto prompt_ids = std::make_shared<std::string>();
       auto device = std::make_shared<std::string>();
       auto& g = o->generation;
       g.max_new_tokens = 256;
       g.temperature = 0.0f;
       auto report = std::make_shared<emrrg::train::ReportGenerationOptions>();
       auto* model_opt = app.add_option("--model,-m", o->model_path, "Hugging Face model folder or llama2.c .bin");
       auto* config_opt = app.add_option("--config", report->config_path, "EMRRG TOML config (with --weights and images)")
                              ->check(CLI::ExistingFile)
                              ->excludes(model_opt);
       app.add_option("--weights", report->weights, "EMRRG checkpoint folder or model.safetensors")
           ->check(CLI::ExistingPath)
           ->needs(config_opt);
       app.add_option("--set", report->overrides, "Override a config key: table.key=value (repeatable)")->needs(config_opt);
       app.add_flag("--random-init", report->random_init, "EMRRG with random weights of [random_init]'s shapes")
           ->needs(config_opt);
       app.add_option("images", report->images, "The views of one study (with --config)")->check(CLI::ExistingFile);
       app.add_option("--tokenizer", o->tokenizer_path,
                      "SentencePiece .model, llama2.c tokenizer.bin or tokenizer.json (default: the folder's)");
       auto* text_opt = app.add_option("--prompt", *prompt, "Prompt text (default: BOS only)");
       app.add_option("--prompt-ids", *prompt_ids, "Prompt token ids, e.g. \"1 2 3\"")->excludes(text_opt);
       app.add_option("--max-new-tokens", g.max_new_tokens, "Tokens to generate at most")->capture_default_str()
           ->check(CLI::NonNegativeNumber);
       app.add_option("--min-new-tokens", g.min_new_tokens, "EOS is not allowed before this many")->capture_default_str()
           ->check(CLI::NonNegativeNumber);
       app.add_option("--temperature", g.temperature, "Sampling temperature; 0 = greedy")->capture_default_str()
           ->check(CLI::NonNegativeNumber);
       app.add_option("--top-p", g.top_p, "Nucleus sampling mass")->capture_default_str()->check(CLI::Range(0.0, 1.0));
       app.add_option("--seed", g.seed, "Sampling seed")->capture_default_str();
       app.add_option("--beams", g.num_beams, "Beam search with this many beams (1: none)")->capture_default_str()
           ->check(CLI::PositiveNumber);
       app.add_option("--repetition-penalty", g.repetition_penalty, "1 = off")->capture_default_str()
           ->check(CLI::PositiveNumber);
       app.add_option("--length-penalty", g.length_penalty, "Beam score / length^A")->capture_default_str();
       app.add_flag("--print-ids", o->print_ids, "Print the new token ids instead of text");
       emrrg::cli::add_device_option(app, *device);
       auto profile = std::make_shared<emrrg::cli::ProfileChoice>();
       emrrg::cli::add_profile_options(app, *profile, "");
       return [o, report, prompt, prompt_ids, device, profile, &app] {
         if (app.count("--config")) {
           if (report->weights.empty()) throw std::runtime_error("generate --config: --weights is required");
           report->device = emrrg::cli::resolve_device(*device);
           std::cout << emrrg::train::generate_report(*report) << "\n";
           return 0;
         }
         if (o->model_path.empty()) throw std::runtime_error("generate: --model or --config is required");
         if (app.count("--prompt")) o->prompt = *prompt;
         if (app.count("--prompt-ids")) o->prompt_ids = parse_ids(*prompt_ids);
         o->generation.do_sample = o->generation.temperature > 0.0f;
         o->device = emrrg::cli::resolve_device(*device);
         auto session = emrrg::cli::start_profile(*profile);
         emrrg::train::run_text_generation(*o, std::cout, std::cerr);
         emrrg::cli::finish_profile(session, *profile, std::cerr);
         return 0;
       };
     }});

}  // namespace

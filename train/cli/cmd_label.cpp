// emrrg label [--header] < reports.txt > labels.csv
// One CSV row of the 14 CheXpert observations per input line: 1 positive, 0 negative,
// -1 uncertain, empty when not mentioned (rule-based labeller, not CheXbert).
#include <iostream>
#include <memory>

#include "train/cli/command_registry.h"
#include "train/metrics/chexpert_labeller.h"
#include "train/metrics/report_io.h"

namespace {

const bool registered = emrrg::cli::register_command(
    {"label", "Label reports (stdin, one per line) with the 14 CheXpert observations as CSV",
     [](CLI::App& app) -> std::function<int()> {
       auto header = std::make_shared<bool>(false);
       app.add_flag("--header", *header, "Print the observation names as a first row");
       return [header] {
         namespace m = emrrg::metrics;
         if (*header) {
           for (int k = 0; k < m::kNumChexpertLabels; ++k) std::cout << (k ? "," : "") << m::kChexpertLabelNames[k];
           std::cout << "\n";
         }
         for (const auto& line : m::read_report_stream(std::cin, "stdin")) {
           const auto labels = m::label_report(line);
           for (int k = 0; k < m::kNumChexpertLabels; ++k) {
             if (k) std::cout << ",";
             if (labels[k]) std::cout << *labels[k];
           }
           std::cout << "\n";
         }
         return 0;
       };
     }});

}  // namespace

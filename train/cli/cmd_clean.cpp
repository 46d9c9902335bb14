// emrrg clean --style iu|mimic|mimic-r2gengpt < reports.txt > cleaned.txt
// Cleans reports exactly as R2Gen (iu, mimic) or R2GenGPT/EMRRG (mimic-r2gengpt) do, one
// report per line.
#include <iostream>
#include <memory>
#include <string>

#include "train/cli/command_registry.h"
#include "train/metrics/report_cleaning.h"
#include "train/metrics/report_io.h"

namespace {

const bool registered = emrrg::cli::register_command(
    {"clean", "Clean reports (stdin to stdout, one per line) as R2Gen or R2GenGPT/EMRRG do",
     [](CLI::App& app) -> std::function<int()> {
       auto style = std::make_shared<std::string>();
       app.add_option("--style", *style, "iu (R2Gen IU X-ray), mimic (R2Gen MIMIC-CXR), mimic-r2gengpt")
           ->required()
           ->check(CLI::IsMember({"iu", "mimic", "mimic-r2gengpt"}));
       return [style] {
         namespace m = emrrg::metrics;
         const auto s = m::parse_cleaning_style(*style);
         for (const auto& line : m::read_report_stream(std::cin, "stdin"))
           std::cout << m::clean_report(line, *s) << "\n";
         return 0;
       };
     }});

}  // namespace

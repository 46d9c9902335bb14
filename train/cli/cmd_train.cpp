// `emrrg train --config C [--set table.key=value ...] [--resume DIR] [--out DIR] [--device D] [--zero 1]
// [--dist-init file:PATH]`; under `mpirun -np N` (or srun) every rank trains its shard of the data,
// averaging with MPI on the CPU and NCCL on GPUs (docs/DISTRIBUTED.md).
#include <iostream>
#include <thread>

#include "runtime/threading.h"
#include "train/cli/command_registry.h"
#include "train/cli/device_option.h"
#include "train/cli/profile_option.h"
#include "train/distributed/file_rendezvous.h"
#include "train/distributed/launch_env.h"
#include "train/train_run.h"
#if defined(EMRRG_WITH_CUDA)
#include "train/distributed/nccl_communicator.h"
#endif

namespace {
const bool registered = emrrg::cli::register_command(
    {"train", "Train the model a TOML config describes (docs/CONFIG.md), resumable and logged", [](CLI::App& app) {
       auto o = std::make_shared<emrrg::train::TrainRunOptions>();
       auto threads = std::make_shared<int>(0);
       auto device = std::make_shared<std::string>();
       app.add_option("--config", o->config_path, "TOML config")->required()->check(CLI::ExistingFile);
       app.add_option("--set", o->overrides, "Override a config key: table.key=value (repeatable)");
       app.add_option("--resume", o->resume_dir, "Continue the run in this folder from its newest valid checkpoint");
       app.add_option("--out", o->out_dir, "Run folder (replaces [train] out_dir)");
       app.add_option("--threads", *threads, "CPU threads (0: all cores, split over the ranks of a node)")->capture_default_str();
       app.add_option("--zero", o->zero, "1: shard AdamW's state over the data-parallel ranks (ZeRO-1)")->check(CLI::Range(0, 1));
       app.add_option("--dist-timeout", o->dist_timeout, "Seconds a collective waits for the other ranks before ending the job")
           ->capture_default_str()
           ->check(CLI::PositiveNumber);
       app.add_option("--dist-init", o->dist_init,
                      "file:PATH: GPU ranks exchange NCCL's unique id through this file on a filesystem every node "
                      "shares, for launches without MPI (srun without PMI); it must not exist yet")
           ->check([](const std::string& spec) {
             try {
               emrrg::train::distributed::parse_dist_init(spec);
               return std::string();
             } catch (const std::invalid_argument& e) {
               return std::string(e.what());
             }
           });
       app.add_flag("--random-init", o->random_init, "EMRRG with random weights of [random_init]'s shapes, without the weight files");
       emrrg::cli::add_device_option(app, *device);
       auto profile = std::make_shared<emrrg::cli::ProfileChoice>();
       emrrg::cli::add_profile_options(app, *profile, "training step");
       // The steps of the model the config describes: with [pretrain], stage 2's (EMRRG's), after
       // stage 1 has pre-trained the encoder untraced; data setup and model building are left out.
       profile->wait_for_begin = true;
       app.get_option("--profile")
           ->description("Write a Chrome/Perfetto trace (trace event JSON) of a few training steps of the config's "
                         "model (with [pretrain]: stage 2's EMRRG steps; stage 1 is not traced) and print a summary "
                         "table to stderr");
       return std::function<int()>([o, threads, device, profile] {
         const emrrg::train::distributed::LaunchEnv env = emrrg::train::distributed::read_launch_env();
#if defined(EMRRG_WITH_CUDA)
         // Data-parallel GPU ranks average their gradients with NCCL.
         o->gpu_communicator = [](int rank, int world_size, int gpu, const emrrg::train::distributed::NcclBootstrap& b,
                                  double timeout) -> std::unique_ptr<emrrg::train::distributed::Communicator> {
           return std::make_unique<emrrg::train::distributed::NcclCommunicator>(rank, world_size, gpu, b, timeout);
         };
         o->device = emrrg::cli::resolve_device(*device);
#else
         // Without NCCL, data-parallel ranks average with MPI on the host, so auto picks the CPU there.
         const bool data_parallel = env.distributed() || o->zero > 0;
         o->device = data_parallel && *device == "auto" ? emrrg::Device::cpu() : emrrg::cli::resolve_device(*device);
#endif
         if (*threads > 0) emrrg::set_num_threads(*threads);
         else if (env.local_size > 1) emrrg::set_num_threads(emrrg::train::distributed::threads_per_rank(env, static_cast<int>(std::thread::hardware_concurrency())));
         auto session = emrrg::cli::start_profile(*profile);
         o->profile = session.get();
         emrrg::train::run_training(*o, std::cout);
         emrrg::cli::finish_profile(session, *profile, std::cerr);
         return 0;
       });
     }});
}  // namespace

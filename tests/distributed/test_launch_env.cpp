// Where a rank sits, read from the launcher's environment (label cpu: no MPI is started).
#include <gtest/gtest.h>

#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "train/distributed/launch_env.h"

namespace emrrg::testing {
namespace {

using train::distributed::LaunchEnv;
using train::distributed::read_launch_env;

// Sets variables for the scope, clearing every launcher variable first.
class Environment {
 public:
  using Vars = std::vector<std::pair<const char*, const char*>>;
  explicit Environment(const Vars& vars) {
    for (const char* name : {"OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE",
                             "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", "SLURM_NTASKS_PER_NODE", "SLURM_TASKS_PER_NODE",
                             "PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID", "MPI_LOCALNRANKS"}) {
      if (const char* v = std::getenv(name)) saved_.emplace_back(name, v);
      unsetenv(name);
      cleared_.push_back(name);
    }
    for (const auto& [name, value] : vars) setenv(name, value, 1);
  }
  ~Environment() {
    for (const std::string& name : cleared_) unsetenv(name.c_str());
    for (const auto& [name, value] : saved_) setenv(name.c_str(), value.c_str(), 1);
  }

 private:
  std::vector<std::pair<std::string, std::string>> saved_;
  std::vector<std::string> cleared_;
};

TEST(LaunchEnv, NoLauncherIsRankZeroOfOne) {
  Environment env(Environment::Vars{});
  const LaunchEnv e = read_launch_env();
  EXPECT_EQ(e.world_size, 1);
  EXPECT_FALSE(e.distributed());
  EXPECT_EQ(e.launcher, "none");
}

TEST(LaunchEnv, OpenMpiSlurmAndPmi) {
  {
    Environment env({{"OMPI_COMM_WORLD_SIZE", "16"}, {"OMPI_COMM_WORLD_RANK", "11"}, {"OMPI_COMM_WORLD_LOCAL_RANK", "3"},
                     {"OMPI_COMM_WORLD_LOCAL_SIZE", "8"}});
    const LaunchEnv e = read_launch_env();
    EXPECT_EQ(e.launcher, "openmpi");
    EXPECT_EQ(e.rank, 11);
    EXPECT_EQ(e.world_size, 16);
    EXPECT_EQ(e.local_rank, 3);
    EXPECT_EQ(e.local_size, 8);
    EXPECT_EQ(train::distributed::threads_per_rank(e, 64), 8);
  }
  {
    Environment env({{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "8"}, {"SLURM_LOCALID", "1"}, {"SLURM_TASKS_PER_NODE", "4(x2)"}});
    const LaunchEnv e = read_launch_env();
    EXPECT_EQ(e.launcher, "slurm");
    EXPECT_EQ(e.rank, 5);
    EXPECT_EQ(e.world_size, 8);
    EXPECT_EQ(e.local_rank, 1);
    EXPECT_EQ(e.local_size, 4);
  }
  {
    Environment env({{"PMI_RANK", "2"}, {"PMI_SIZE", "3"}});
    const LaunchEnv e = read_launch_env();
    EXPECT_EQ(e.launcher, "pmi");
    EXPECT_EQ(e.rank, 2);
    EXPECT_EQ(e.world_size, 3);
  }
}

TEST(LaunchEnv, AShellInsideSallocIsNotARank) {
  Environment env(Environment::Vars{{"SLURM_NTASKS", "8"}});  // srun would add SLURM_PROCID
  EXPECT_FALSE(read_launch_env().distributed());
}

TEST(LaunchEnv, BadValuesAreErrorsNamingTheVariable) {
  {
    Environment env(Environment::Vars{{"OMPI_COMM_WORLD_SIZE", "two"}});
    try {
      read_launch_env();
      FAIL() << "no error";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("OMPI_COMM_WORLD_SIZE='two'"), std::string::npos) << e.what();
    }
  }
  Environment env({{"OMPI_COMM_WORLD_SIZE", "2"}, {"OMPI_COMM_WORLD_RANK", "2"}});
  EXPECT_THROW(read_launch_env(), std::runtime_error);
}

}  // namespace
}  // namespace emrrg::testing

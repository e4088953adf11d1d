#pragma once
// ProcessGroup over MPI (OpenMPI from Debian's libopenmpi-dev). Launched by
// `mpirun -np N tessera train cfg.yaml`: rank and world size come from MPI (OpenMPI also puts
// them in OMPI_COMM_WORLD_RANK / OMPI_COMM_WORLD_SIZE). MPI is initialised, used and finalised on
// the group's communication thread only (MPI_THREAD_SERIALIZED is enough). Collectives are
// non-blocking (MPI_Iallreduce, MPI_Ibcast, MPI_Ibarrier) polled against the timeout, because a
// blocking MPI call cannot be abandoned when a peer hangs.
#include <memory>

#include "core/process_group.h"

namespace tessera::distributed {

std::shared_ptr<ProcessGroup> make_mpi_process_group(double timeout_s);

}  // namespace tessera::distributed

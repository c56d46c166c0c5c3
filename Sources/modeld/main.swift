// modeld: model execution. For now the hand-use commands of the built-in engine; the daemon
// around it (socket, batches from batchd) comes with the pipeline.
import Foundation

exit(ModelCommand.main(Array(CommandLine.arguments.dropFirst())))

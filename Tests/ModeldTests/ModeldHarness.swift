import Glibc
import IPC
import Services
import TestKit

@testable import modeld

/// A modeld service on a real socket in a temporary directory.
struct ModeldHarness {
    let directory: TemporaryDirectory
    let listenFD: Int32
    let service: ModelService
    let client: GenerationClient
    var metrics: ModelMetrics { service.metrics }

    init(name: String = "smollm2", model: LoadedModel, options: ModelOptions = ModelOptions()) throws {
        directory = try TemporaryDirectory()
        let socket = directory.file("modeld-\(name).sock")
        listenFD = try UnixSocket.listen(path: socket)
        service = try ModelService(name: name, model: model, options: options, listenFD: listenFD, logger: quietLogger)
        client = GenerationClient(path: socket, protocolName: ServiceName.modeld)
    }

    func close() async {
        client.client.close()
        await service.shutdown()
        Glibc.close(listenFD)
        directory.remove()
    }

    func generate(messages: [GenerationProtocol.Message] = [], prompt: String = "", model: String = "smollm2",
                  parameters: GenerationProtocol.Parameters = .init(maxTokens: 8, temperature: 0), timeout: Duration = .seconds(60))
        -> AsyncThrowingStream<GenerationProtocol.Event, any Error> {
        client.generate(
            GenerationProtocol.Generate(requestID: "test", model: model, messages: messages, prompt: prompt, parameters: parameters),
            timeout: timeout)
    }
}

import Services

/// Reads a generation stream to its end.
/// - Returns: The text of every chunk joined, how many chunks came, and the DONE event (nil if none came);
///   a ROUTE event (who answered) is passed over.
/// - Throws: What the stream throws.
public func collect(_ stream: AsyncThrowingStream<GenerationProtocol.Event, any Error>) async throws
    -> (text: String, chunks: Int, done: GenerationProtocol.Done?)
{
    var text = ""
    var chunks = 0
    var done: GenerationProtocol.Done?
    for try await event in stream {
        switch event {
        case .chunk(let chunk):
            text += chunk.text
            chunks += 1
        case .done(let d):
            done = d
        case .route:
            break
        }
    }
    return (text, chunks, done)
}

import Testing

@testable import Upstream

@Suite("UpstreamRequestOptions: the headers forwarded to an upstream")
struct UpstreamRequestOptionsTests {
    @Test("X-Request-ID only for UUID-shaped ids (llama.cpp's Python server refuses others with 400)", arguments: [
        ("4bf92f3577b34da6a3ce929d0e0e4736", true),
        ("4BF92F35-77B3-4DA6-A3CE-929D0E0E4736", true),
        ("client-request.42", false),
        ("health-probe", false),
        ("4bf92f3577b34da6a3ce929d0e0e473", false),
        ("4bf92f35-77b34da6-a3ce-929d0e0e4736", false),
        ("4bf92f3577b34da6a3ce929d0e0e473g", false),
    ])
    func requestID(_ id: String, _ sent: Bool) {
        let headers = UpstreamRequestOptions(requestID: id).headers
        #expect(headers.contains { $0.name == "X-Request-ID" && $0.value == id } == sent)
    }

    @Test("traceparent is sent as is; unsafe values are dropped")
    func traceParent() {
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        #expect(UpstreamRequestOptions(traceParent: tp).headers.map(\.value) == [tp])
        #expect(UpstreamRequestOptions(traceParent: "bad\r\nX-Evil: 1").headers.isEmpty)
    }
}

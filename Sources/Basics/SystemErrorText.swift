import Glibc

/// `strerror` text with the number, the one way every target words a failed system call:
/// "Address already in use (errno 98)".
public func errorText(_ code: Int32) -> String {
    "\(String(cString: strerror(code))) (errno \(code))"
}

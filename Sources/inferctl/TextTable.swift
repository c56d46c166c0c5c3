/// A table for people: a header and rows of cells, columns two spaces apart and padded to their widest
/// cell (measured without colour codes), numbers right-aligned where asked, the last column left ragged
/// and no line ending in spaces. `Table` (the plain one of health, status, metrics) is this without colour.
struct TextTable {
    /// The column titles.
    var header: [String]
    /// The rows, each as many cells as the header.
    var rows: [[String]] = []
    /// Columns aligned to the right (figures).
    var rightAligned: Set<Int> = []

    init(_ header: [String], rightAligned: Set<Int> = []) {
        self.header = header
        self.rightAligned = rightAligned
    }

    mutating func add(_ row: [String]) {
        rows.append(row)
    }

    /// The table as lines ending in newlines.
    /// - Parameters:
    ///   - style: Bold headers when it colours.
    ///   - paint: Colours a cell after it was padded (row index, column, padded text); by default none.
    func render(style: TerminalStyle, paint: (Int, Int, String) -> String = { $2 }) -> String {
        let columns = header.count
        var widths = [Int](repeating: 0, count: columns)
        for row in [header] + rows {
            for (column, cell) in row.enumerated() where column < columns { widths[column] = max(widths[column], cell.count) }
        }
        func line(_ row: [String], _ colour: (Int, String) -> String) -> String {
            var parts: [String] = []
            for column in 0..<columns {
                let cell = column < row.count ? row[column] : ""
                let gap = String(repeating: " ", count: widths[column] - cell.count)
                let last = column == columns - 1
                let padded = rightAligned.contains(column) ? gap + cell : last ? cell : cell + gap
                parts.append(colour(column, padded))
            }
            var text = parts.joined(separator: "  ")
            while text.last == " " { text.removeLast() }
            return text
        }
        var out = line(header) { _, text in style.bold(text) } + "\n"
        for (index, row) in rows.enumerated() {
            out += line(row) { column, text in paint(index, column, text) } + "\n"
        }
        return out
    }
}

/// An element of an `IndexedHeap`: it knows its own position, so it can be removed or re-ordered
/// in O(log n) without a search. An element is in at most one heap at a time.
protocol HeapIndexed: AnyObject {
    /// Position in the heap holding it; -1 when in none. Written only by that heap.
    var heapIndex: Int { get set }
}

/// A binary min-heap of objects ordered by `less`, with O(log n) insert, removal of any element
/// and re-ordering of one whose priority changed (`update`). Not thread-safe: its owner guards it.
struct IndexedHeap<Element: HeapIndexed> {
    private var items: [Element] = []
    private let less: (Element, Element) -> Bool

    init(by less: @escaping (Element, Element) -> Bool) {
        self.less = less
    }

    var count: Int { items.count }
    var isEmpty: Bool { items.isEmpty }
    var min: Element? { items.first }

    func contains(_ element: Element) -> Bool {
        element.heapIndex >= 0 && element.heapIndex < items.count && items[element.heapIndex] === element
    }

    mutating func insert(_ element: Element) {
        element.heapIndex = items.count
        items.append(element)
        siftUp(items.count - 1)
    }

    @discardableResult
    mutating func popMin() -> Element? {
        guard let first = items.first else { return nil }
        remove(first)
        return first
    }

    /// Removes `element` if this heap holds it.
    mutating func remove(_ element: Element) {
        guard contains(element) else { return }
        let i = element.heapIndex
        let last = items.count - 1
        if i != last {
            items.swapAt(i, last)
            items[i].heapIndex = i
        }
        items.removeLast()
        element.heapIndex = -1
        if i < items.count { restore(i) }
    }

    /// Re-orders `element` after its priority changed.
    mutating func update(_ element: Element) {
        guard contains(element) else { return }
        restore(element.heapIndex)
    }

    private mutating func restore(_ i: Int) {
        if i > 0, less(items[i], items[(i - 1) / 2]) { siftUp(i) } else { siftDown(i) }
    }

    private mutating func siftUp(_ start: Int) {
        var i = start
        while i > 0 {
            let parent = (i - 1) / 2
            guard less(items[i], items[parent]) else { break }
            swap(i, parent)
            i = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var i = start
        while true {
            let l = 2 * i + 1, r = l + 1
            var smallest = i
            if l < items.count, less(items[l], items[smallest]) { smallest = l }
            if r < items.count, less(items[r], items[smallest]) { smallest = r }
            guard smallest != i else { return }
            swap(i, smallest)
            i = smallest
        }
    }

    private mutating func swap(_ a: Int, _ b: Int) {
        items.swapAt(a, b)
        items[a].heapIndex = a
        items[b].heapIndex = b
    }
}

//! Moving a run of points left over free room before it, on several threads with no
//! synchronization: how a parallel build puts its second job's points right after the first's.

/// One thread's share of moving points left over the room before them.
///
/// The room (`d` slots) and the points after it are cut into blocks of `d` slots, and every block
/// into the same `lanes` ranges. Moving is copying each block onto the one before it; lane `t` of a
/// block only ever lands on lane `t` of the previous block, which the same thread copied away one
/// step earlier. So the threads need no synchronization, and every slice is their own.
#[derive(Debug)]
pub(crate) struct Lane<'a> {
    /// Lane `t` of block 0 (the room), then of blocks 1, 2, ...
    pieces: Vec<&'a mut [u64]>,
}

impl<'a> Lane<'a> {
    pub(crate) fn split(room: &'a mut [u64], points: &'a mut [u64], lanes: usize) -> Vec<Lane<'a>> {
        let d = room.len();
        if d == 0 || points.is_empty() {
            return Vec::new();
        }
        let mut out: Vec<Lane<'a>> = (0..lanes).map(|_| Lane { pieces: Vec::new() }).collect();
        for block in std::iter::once(room).chain(points.chunks_mut(d)) {
            let mut rest = block;
            for (t, lane) in out.iter_mut().enumerate() {
                let len = ((t + 1) * d / lanes - t * d / lanes).min(rest.len());
                let (piece, tail) = std::mem::take(&mut rest).split_at_mut(len);
                lane.pieces.push(piece);
                rest = tail;
            }
        }
        out
    }

    /// Copies each piece onto the one before it. The last block may be short: its pieces land on
    /// the start of the previous block's, and what they leave untouched lies past the last point.
    pub(crate) fn run(mut self) {
        for i in 1..self.pieces.len() {
            let (done, next) = self.pieces.split_at_mut(i);
            let (to, from) = (&mut done[i - 1], &next[0]);
            to[..from.len()].copy_from_slice(from);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanes_move_points_over_the_room_before_them() {
        for (room, points, lanes) in [
            (5usize, 23usize, 2usize),
            (7, 7, 3),
            (3, 1, 4),
            (1, 9, 2),
            (9, 40, 16),
        ] {
            let mut buf: Vec<u64> = (0..(room + points) as u64).map(|x| x + 100).collect();
            let want: Vec<u64> = buf[room..].to_vec();
            let (gap, rest) = buf.split_at_mut(room);
            for lane in Lane::split(gap, rest, lanes) {
                lane.run();
            }
            assert_eq!(
                &buf[..points],
                want,
                "room {room}, {points} points, {lanes} lanes"
            );
        }
        let mut none: [u64; 0] = [];
        assert!(Lane::split(&mut [], &mut none, 2).is_empty());
    }
}

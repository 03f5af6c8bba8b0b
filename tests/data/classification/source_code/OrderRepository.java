package com.example.checkout.orders;

import java.time.Instant;
import java.util.List;
import java.util.Optional;

import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.jdbc.core.RowMapper;
import org.springframework.stereotype.Repository;
import org.springframework.transaction.annotation.Transactional;

@Repository
public class OrderRepository {

    private static final RowMapper<Order> MAPPER = (rs, rowNum) -> new Order(
            rs.getLong("id"),
            rs.getString("customer_id"),
            OrderStatus.valueOf(rs.getString("status")),
            rs.getTimestamp("created_at").toInstant());

    private final JdbcTemplate jdbc;

    public OrderRepository(JdbcTemplate jdbc) {
        this.jdbc = jdbc;
    }

    @Transactional(readOnly = true)
    public List<Order> findOpenOrders(String customerId, Instant since) {
        return jdbc.query(
                "SELECT id, customer_id, status, created_at FROM orders "
                        + "WHERE customer_id = ? AND status = 'OPEN' AND created_at > ?",
                MAPPER, customerId, java.sql.Timestamp.from(since));
    }

    public Optional<Order> findById(long id) {
        List<Order> rows = jdbc.query("SELECT * FROM orders WHERE id = ?", MAPPER, id);
        return rows.isEmpty() ? Optional.empty() : Optional.of(rows.get(0));
    }

    @Transactional
    public int markReserved(long id) {
        int updated = jdbc.update("UPDATE orders SET status = 'RESERVED' WHERE id = ? AND status = 'OPEN'", id);
        if (updated == 0) {
            throw new IllegalStateException("order " + id + " is not open");
        }
        return updated;
    }
}

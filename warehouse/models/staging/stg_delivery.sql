-- description: Every delivered landing file whose rows are in raw, in delivery order per source. The contract's "first" and "newest" delivery are decided here and nowhere else: the delivery date in the file name, then when the file arrived (the load that first saw it, then the time it landed in the folder), then its name. `newest_of_snapshot` marks the newest combination-class list of each school and school year.
-- unique: file_name, sha256
-- not_null: file_name, sha256, source, delivery_order
with source as (
    select * from audit.file_log
    where status in ('loaded', 'superseded')
),

ordered as (
    select
        file_name,
        sha256,
        source,
        delivery_date,
        snapshot_key,
        row_number() over (
            partition by source
            order by delivery_date, first_seen_at, arrived_at nulls last, file_name, sha256
        ) as delivery_order
    from source
),

final as (
    select
        *,
        source = 'combination_classes'
        and delivery_order = max(delivery_order) over (partition by source, snapshot_key) as newest_of_snapshot
    from ordered
)

select * from final

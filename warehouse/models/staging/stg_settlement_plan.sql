-- description: Settlement plans (IMDi's requests, the councils' decisions) from every delivery dated on or before as_of, one row per delivery, municipality and year, renamed to English. `in_force` marks the newest delivery of each municipality and year (the delivery date in the file name decides, see stg_delivery); older deliveries are kept because the forecast's backtest must see the plans as they stood before each intake.
-- unique: source_file, municipality_code, year
-- not_null: municipality_code, year, requested, source_file, delivery_date, delivery_order
with source as (
    select * from raw.settlement_plan_row
),

delivered as (
    -- one row per municipality and year in a file (identical repeats are duplicates)
    select s.*, d.delivery_order
    from source s
    inner join staging.stg_delivery d on s.source_sha256 = d.sha256 and s.source_file = d.file_name
    where s.delivery_date <= getvariable('as_of')::date
    qualify row_number() over (
        partition by s.source_file, s.source_sha256, s.kommunenr, s.aar
        order by s.row_number
    ) = 1
),

renamed as (
    select
        kommunenr as municipality_code,
        aar as year,
        anmodet as requested,
        vedtatt as decided,
        herav_ema as unaccompanied_minors,
        source_file,
        row_number as source_row,
        delivery_date,
        delivery_order
    from delivered
),

final as (
    select
        *,
        delivery_order = max(delivery_order) over (partition by municipality_code, year) as in_force
    from renamed
)

select * from final

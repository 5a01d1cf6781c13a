-- description: One row per municipality and year in force: IMDi's request, the council's decision (null while undecided) and the unaccompanied minors among them, from the newest delivery for that municipality and year (contract §5), with the file it came from.
-- unique: municipality_code, year
-- not_null: municipality_code, year, requested, source_file
with source as (
    select * from staging.stg_settlement_plan
    where in_force
),

final as (
    select municipality_code, year, requested, decided, unaccompanied_minors, source_file
    from source
)

select * from final

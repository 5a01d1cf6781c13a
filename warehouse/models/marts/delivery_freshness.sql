-- description: Delivery freshness (issue 15): one row per source and provider that has delivered before: a municipality for the introduction programme (from `intro_<municipality>_<date>`), a school for combination classes (`kombinasjon_<orgnr>_…`), the source as a whole for the others. The usual rhythm is the median gap between its distinct delivery dates (from audit.file_log, every file that arrived, refused ones too: a refused file still shows the provider is delivering). A provider is overdue when `as_of` is past its last delivery plus its usual gap plus a grace of half a gap (at least 7 days); with a single delivery there is no rhythm yet and it is never flagged here (`pathways status` still warns when a whole source stops, by the `overdue_days` setting).
-- unique: source, provider_kind, provider_code
-- not_null: source, provider_kind, provider_code, deliveries, last_delivery, overdue
with deliveries as (
    select distinct
        source,
        case source
            when 'intro' then 'municipality' when 'combination_classes' then 'school'
            else 'source'
        end as provider_kind,
        case source
            when 'intro' then regexp_extract(file_name, '^intro_([0-9]{4})_', 1)
            when 'combination_classes' then regexp_extract(file_name, '^kombinasjon_([0-9]{9})_', 1)
            else source
        end as provider_code,
        delivery_date
    from audit.file_log
    where delivery_date is not null and delivery_date <= getvariable('as_of')::date
),

gaps as (
    select
        *, delivery_date - lag(delivery_date) over (
            partition by source, provider_kind, provider_code order by delivery_date
        ) as gap_days
    from deliveries
    where provider_code <> ''
),

rhythm as (
    select
        source, provider_kind, provider_code,
        count(*) as deliveries,
        min(delivery_date) as first_delivery,
        max(delivery_date) as last_delivery,
        round(median(gap_days))::integer as usual_gap_days
    from gaps
    group by all
),

final as (
    select
        r.*,
        case r.provider_kind
            when 'municipality' then r.provider_code
            when 'school' then s.municipality_code
        end as municipality_code,
        case r.provider_kind
            when 'municipality' then coalesce(m.municipality_name, r.provider_code)
            when 'school' then coalesce(s.school_name, r.provider_code)
            else r.source
        end as provider_name,
        r.last_delivery + r.usual_gap_days as expected_by,
        r.last_delivery + r.usual_gap_days + greatest(7, r.usual_gap_days // 2) as overdue_after,
        coalesce(
            getvariable('as_of')::date
            > r.last_delivery + r.usual_gap_days + greatest(7, r.usual_gap_days // 2), false
        ) as overdue,
        case
            when r.usual_gap_days is not null
                then greatest(getvariable('as_of')::date - (r.last_delivery + r.usual_gap_days), 0)
        end as days_late
    from rhythm r
    left join reference.municipality m on r.provider_kind = 'municipality' and r.provider_code = m.municipality_code
    left join reference.school s on r.provider_kind = 'school' and r.provider_code = s.school_orgnr
)

select * from final
